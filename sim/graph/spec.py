"""The multi-tier parts of a scenario: routes (sequential steps of fan-out calls) and edges (one
downstream call kind, a real ``Pipeline`` per calling replica)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from resilience._config import Config, non_negative, positive, rule
from resilience.classify import ClassifierConfig
from resilience.retry import RetryConfig
from sim.scenario.build import config_from_dict, late_type

__all__ = ["MODES", "Edge", "Route", "Step"]

MODES = ("all", "any", "first_k")

_NAME_RULE = rule(lambda v: isinstance(v, str) and v != "", "must be a non-empty string")


def _names(v: tuple[str, ...]) -> bool:
    return len(v) > 0 and all(isinstance(x, str) and x for x in v)


@dataclass(frozen=True, slots=True)
class Step(Config):
    """One step of a route: call every edge in ``calls`` at once and join their answers by ``mode``.

    ``all``: every call must succeed; ``any``: the first success answers; ``first_k``: ``k``
    successes answer. The step fails as soon as too many calls have failed for the mode to be met.
    """

    calls: tuple[str, ...] = field(default=(), metadata=rule(_names, "must list at least one edge name"))
    mode: str = field(default="all", metadata=rule(lambda v: v in MODES, "must be all, any or first_k"))
    k: int | None = field(default=None, metadata=rule(lambda v: v >= 1, "must be >= 1"))

    def needed(self) -> int:
        """How many successful calls complete the step."""
        if self.mode == "all":
            return len(self.calls)
        if self.mode == "any":
            return 1
        return self.k or 1


@dataclass(frozen=True, slots=True)
class Route(Config):
    """What serving one request of this route does after the tier's own service time: ``steps`` in
    order. ``timeout`` bounds the tier's work on the request (the earlier of it and the propagated
    deadline); with ``tag`` it is the initial value of that tag in the tier's timeout registry
    (``resilience.timeouts.tags``), which may change it at run time."""

    steps: tuple[Step, ...] = ()
    timeout: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    tag: str | None = field(default=None, metadata=_NAME_RULE)

    def _cross_checks(self) -> None:
        if self.tag is not None and self.timeout is None:
            raise self._error("tag", "needs timeout (the tag's initial threshold)")


@dataclass(frozen=True, slots=True)
class Edge(Config):
    """One kind of downstream call: from the ``caller`` service to a ``route`` of ``target``.

    Each replica of the caller owns its own ``Pipeline`` for the edge (retry, breaker, budget,
    jitter stream), as in production. Each attempt carries the deadline ``reserve`` seconds before
    the attempt's own end (whole milliseconds, the wire form of ``resilience.timeouts.propagation``).
    """

    caller: str = field(default="", metadata=_NAME_RULE)
    target: str = field(default="", metadata=_NAME_RULE)
    route: str = field(default="default", metadata=_NAME_RULE)
    link: str | None = None
    operation: str = field(
        default="call", metadata=rule(lambda v: v in ("call", "cas"), "must be call or cas")
    )
    retry: RetryConfig = field(default_factory=lambda: RetryConfig(max_attempts=1))
    breaker: Any = field(default=None, metadata={"late": "breaker"})  # a resilience.breaker.BreakerConfig
    budget: Any = field(default=None, metadata={"late": "budget"})  # a resilience.budget.BudgetConfig
    classifier: ClassifierConfig | None = None
    reserve: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    fallback: str | None = field(default=None, metadata=_NAME_RULE)
    idempotent: bool = True
    keys: bool = False
    compensation: Any = field(default=None, metadata={"late": "compensation"})  # sim.scenario.stores
    forward_ip: bool = True  # the client IP travels on (X-Forwarded-For): per-IP limits downstream see it

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Self:
        """Build from plain data; ``breaker``/``budget`` tables become their configs."""
        return config_from_dict(cls, data, source=source)

    def _cross_checks(self) -> None:
        if not isinstance(self.retry, RetryConfig):
            raise self._error("retry", "must be a RetryConfig")
        for name in ("breaker", "budget", "compensation"):
            value = getattr(self, name)
            if value is None:
                continue
            cls = late_type(name)
            if cls is None:
                raise self._error(name, "needs its configuration module")
            if not isinstance(value, cls):
                raise self._error(name, f"must be a {cls.__name__}")
