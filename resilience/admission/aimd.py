"""AIMD concurrency limit: additive increase, multiplicative decrease (loss based).

After Netflix concurrency-limits' ``AIMDLimit``. Kept: a drop (a timeout, a
shed call, or a round trip longer than ``timeout``) multiplies the limit by
``backoff_ratio`` (0.5 ≤ ratio < 1) and truncates; a success adds one when the
call saw at least half the limit in flight (so an idle service does not inflate
its limit); the result is clamped to [min_limit, max_limit]. Not thread-safe on
its own: :class:`~resilience.admission.limiter.ConcurrencyLimiter` calls it
under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._config import Config, positive, rule

__all__ = ["AIMDConfig", "AIMDLimit"]


def _at_least_one(v: int) -> bool:
    return v >= 1


@dataclass(frozen=True, slots=True)
class AIMDConfig(Config):
    """AIMD settings; ``initial_limit`` must lie in [min_limit, max_limit]."""

    kind = "aimd"

    initial_limit: int = field(default=20, metadata=rule(_at_least_one, "must be >= 1"))
    min_limit: int = field(default=1, metadata=rule(_at_least_one, "must be >= 1"))
    max_limit: int = field(default=200, metadata=rule(_at_least_one, "must be >= 1"))
    backoff_ratio: float = field(default=0.9, metadata=rule(lambda v: 0.5 <= v < 1.0, "must be in [0.5, 1)"))
    timeout: float = field(default=5.0, metadata=rule(positive, "must be > 0 and finite"))

    def _cross_checks(self) -> None:
        if self.min_limit > self.max_limit:
            raise self._error("min_limit", f"must be <= max_limit ({self.max_limit})")
        if not self.min_limit <= self.initial_limit <= self.max_limit:
            raise self._error("initial_limit", f"must be in [{self.min_limit}, {self.max_limit}]")

    def build(self) -> AIMDLimit:
        return AIMDLimit(self)


class AIMDLimit:
    """The current limit and its update rule."""

    __slots__ = ("_limit", "config")

    def __init__(self, config: AIMDConfig | None = None) -> None:
        self.config = config or AIMDConfig()
        self._limit = self.config.initial_limit

    @property
    def limit(self) -> int:
        return self._limit

    def update(self, rtt: float, in_flight: int, dropped: bool) -> int:
        """Feed one finished call; ``in_flight`` is what it saw when it started (itself included)."""
        c = self.config
        limit = self._limit
        if dropped or rtt > c.timeout:
            limit = math.floor(limit * c.backoff_ratio)
        elif in_flight * 2 >= limit:
            limit += 1
        self._limit = limit = min(c.max_limit, max(c.min_limit, limit))
        return limit
