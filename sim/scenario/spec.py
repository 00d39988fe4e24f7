"""The scenario model: client groups, links, services, faults — frozen, validated dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from resilience._config import Config, ConfigError, non_negative, positive, rule
from resilience.classify import ClassifierConfig
from resilience.retry import RetryConfig
from sim.graph.defences import Defences
from sim.graph.spec import Edge, Route
from sim.graph.validate import graph_problems
from sim.scenario.build import CrossRuleError, config_from_dict, late_type
from sim.scenario.distributions import ZERO, Distribution
from sim.scenario.errors import ErrorSpec
from sim.scenario.faults import (
    CacheFlush,
    CapacityDrop,
    ErrorBurst,
    Fault,
    LatencySpike,
    Outage,
    Partition,
    fault_problems,
)
from sim.scenario.overrides import apply_overrides, flat_parameters
from sim.scenario.queues import QueuePolicy
from sim.scenario.workloads import Fixed, Poisson, Workload
from sim.scenario.writer import scenario_to_toml, write_scenario
from sim.scenario.zero_delay import zero_delay_problems

__all__ = [
    "CacheFlush",
    "CapacityDrop",
    "ClientGroup",
    "CrossRuleError",
    "ErrorBurst",
    "ErrorSpec",
    "Fault",
    "LatencySpike",
    "Link",
    "LoadLatency",
    "Outage",
    "Partition",
    "Scenario",
    "Service",
    "late_type",
    "scenario_problems",
]

_NAME_RULE = rule(lambda v: isinstance(v, str) and v != "", "must be a non-empty string")


@dataclass(frozen=True, slots=True)
class LoadLatency(Config):
    """Service time under load: it grows by ``per_in_flight`` seconds per call in the service above
    ``threshold``; with ``multiplier`` it is also multiplied by a function of the busy-worker fraction
    u (the starting call included): ``linear`` 1 + factor*u, ``polynomial`` 1 + factor*u**exponent,
    ``exponential`` e**(factor*u)."""

    per_in_flight: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    threshold: int = field(default=0, metadata=rule(lambda v: v >= 0, "must be >= 0"))
    multiplier: str | None = field(
        default=None,
        metadata=rule(
            lambda v: v in ("linear", "polynomial", "exponential"),
            "must be linear, polynomial or exponential",
        ),
    )
    factor: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    exponent: float = field(default=2.0, metadata=rule(positive, "must be > 0 and finite"))

    def _cross_checks(self) -> None:
        if self.multiplier is None and self.factor:
            raise self._error("factor", "needs multiplier")


@dataclass(frozen=True, slots=True)
class Service(Config):
    """A server: ``workers`` (0 = unlimited), a bounded queue, service times, errors.

    Every service also holds one versioned row for compare-and-set clients.
    """

    workers: int = field(default=1, metadata=rule(lambda v: 0 <= v <= 1_000_000, "must be in 0..1000000"))
    queue: int = field(default=-1, metadata=rule(lambda v: v >= -1, "must be >= 0, or -1 for unbounded"))
    discipline: str = field(
        default="fifo", metadata=rule(lambda v: v in ("fifo", "lifo"), "must be fifo or lifo")
    )
    service_time: Distribution = ZERO
    load_latency: LoadLatency | None = None
    errors: tuple[ErrorSpec, ...] = ()
    cancel_on_timeout: bool = False
    queue_policy: QueuePolicy | None = None  # see sim/scenario/queues.py; None: plain FIFO/LIFO
    # multi-tier (docs/multi-tier.md): every field below applies per replica
    replicas: int = field(default=1, metadata=rule(lambda v: 1 <= v <= 10_000, "must be in 1..10000"))
    routes: dict[str, Route] = field(default_factory=dict)
    balancer: Any = field(default=None, metadata={"late": "balancer"})  # sim.scenario.balancing
    gate: Any = field(default=None, metadata={"late": "gate"})  # sim.scenario.gates
    cache: Any = field(default=None, metadata={"late": "cache"})  # sim.scenario.stores
    timeout_source: str | None = field(
        default=None, metadata=rule(lambda v: v in ("gateway", "backend"), "must be gateway or backend")
    )
    flood: Any = field(default=None, metadata={"late": "flood"})  # sim.scenario.gates.FloodConfig
    flood_route: str | None = field(default=None, metadata=_NAME_RULE)  # where flagged IPs go (degraded)
    side_effects: Any = field(default=None, metadata={"late": "side_effects"})  # sim.scenario.stores
    # multi-tier: start work whose deadline has passed instead of answering 504 at dequeue (late work)
    serve_expired: bool = False

    @property
    def multi_tier(self) -> bool:
        """True when the service uses anything of the multi-tier model."""
        parts: list[Any] = [self.routes, self.balancer, self.gate, self.cache, self.timeout_source]
        parts += [self.flood, self.side_effects]
        return self.replicas != 1 or any(p for p in parts)

    def _cross_checks(self) -> None:
        if (self.flood is None) != (self.flood_route is None):
            raise self._error("flood_route", "must be set together with flood")
        if self.flood_route is not None and self.flood_route not in self.routes:
            raise self._error("flood_route", "must name one of the service's routes")
        for name in ("balancer", "gate", "cache", "flood", "side_effects"):
            value = getattr(self, name)
            if value is None:
                continue
            cls = late_type(name)
            if cls is None:
                raise self._error(name, "needs its configuration module")
            if not isinstance(value, cls):
                raise self._error(name, f"must be a {cls.__name__}")
        if not isinstance(self.service_time, Distribution):
            raise self._error("service_time", "must be a distribution")
        if sum(e.probability for e in self.errors) > 1.0 + 1e-12:
            raise self._error("errors", "probabilities must sum to <= 1")
        if self.serve_expired and self.queue_policy is not None and self.queue_policy.drop_expired:
            raise self._error("serve_expired", "must be false when queue_policy.drop_expired is set")
        lifo_policy = self.queue_policy is not None and self.queue_policy.adaptive_lifo is not None
        if lifo_policy and self.discipline == "lifo":
            raise self._error("discipline", "must be fifo when queue_policy.adaptive_lifo is set")


@dataclass(frozen=True, slots=True)
class Link(Config):
    """A network path: one-way ``latency`` each direction, ``loss`` probability per message."""

    latency: Distribution = ZERO
    loss: float = field(default=0.0, metadata=rule(lambda v: 0 <= v < 1, "must be in [0, 1)"))


@dataclass(frozen=True, slots=True)
class ClientGroup(Config):
    """``instances`` clients with identical pipelines calling ``target``."""

    target: str = field(default="", metadata=_NAME_RULE)
    instances: int = field(default=1, metadata=rule(lambda v: 1 <= v <= 1_000_000, "must be in 1..1000000"))
    workload: Workload = field(default_factory=Poisson)
    link: str | None = None
    operation: str = field(
        default="call", metadata=rule(lambda v: v in ("call", "cas"), "must be call or cas")
    )
    idempotent: bool = True
    retry: RetryConfig = field(default_factory=lambda: RetryConfig(max_attempts=1))
    breaker: Any = field(default=None, metadata={"late": "breaker"})  # a resilience.breaker.BreakerConfig
    budget: Any = field(default=None, metadata={"late": "budget"})  # a resilience.budget.BudgetConfig
    classifier: ClassifierConfig | None = None
    fallback: str | None = field(default=None, metadata=_NAME_RULE)
    # multi-tier (docs/multi-tier.md): route weights at the target, client IPs
    routes: dict[str, float] = field(default_factory=dict)
    ips: int = field(default=1, metadata=rule(lambda v: 1 <= v <= 100_000_000, "must be in 1..100000000"))
    new_connections: bool = False  # every request opens a new connection (a flood IP); else keep-alive

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Self:
        """Build from plain data; ``breaker``/``budget`` tables become their configs (as in ``Scenario``)."""
        return config_from_dict(cls, data, source=source)

    def _cross_checks(self) -> None:
        if not isinstance(self.workload, Workload):
            raise self._error("workload", "must be a workload")
        if not isinstance(self.retry, RetryConfig):
            raise self._error("retry", "must be a RetryConfig")
        for name in ("breaker", "budget"):
            value = getattr(self, name)
            if value is None:
                continue
            cls = late_type(name)
            if cls is None:
                raise self._error(name, f"needs the resilience.{name} package")
            if not isinstance(value, cls):
                raise self._error(name, f"must be a {cls.__name__}")


@dataclass(frozen=True, slots=True)
class Scenario(Config):
    """A whole simulation: what runs, for how long, and what goes wrong when."""

    name: str = field(default="scenario", metadata=_NAME_RULE)
    duration: float = field(default=60.0, metadata=rule(positive, "must be > 0 and finite"))
    warmup: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    slo_latency: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    bin_width: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    scrape_interval: float = field(default=5.0, metadata=rule(positive, "must be > 0 and finite"))
    epoch: int = field(default=1_767_225_600, metadata=rule(lambda v: 0 <= v < 2**40, "must be in 0..2^40"))
    clients: dict[str, ClientGroup] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    edges: dict[str, Edge] = field(default_factory=dict)
    defences: Defences | None = None  # run-time defences (sim/graph/defences.py)

    def _cross_checks(self) -> None:
        problems = scenario_problems(self)
        if problems:
            raise CrossRuleError(problems)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> Self:
        """Build from plain data (``to_dict()`` output or TOML data) with the checks and messages of a
        scenario file; every problem raises one ``ScenarioError``. Unlike a file, defaults fill
        ``warmup`` and ``slo_latency`` when they are left out."""
        return config_from_dict(cls, data, source=source)

    def to_toml(self, *, defaults: bool = False) -> str:
        """TOML text that ``load_scenario`` reads back to an equal scenario; unset fields are left out,
        and so are fields equal to their default unless ``defaults``."""
        return scenario_to_toml(self, defaults=defaults)

    def write_toml(self, path: str | Path, *, defaults: bool = False) -> Path:
        """Write ``to_toml()`` to ``path`` (UTF-8); returns the path."""
        return write_scenario(self, path, defaults=defaults)

    def with_(self, **overrides: Any) -> Scenario:
        """A copy with settings changed by dotted path, validated like a scenario file:
        ``sc.with_(**{"clients.web.breaker.failure_rate_threshold": 0.2, "faults[0].duration": 8.0})``.

        Values are plain data or configs; problems raise one ``ScenarioError`` whose source is
        ``<name>``. A path under an absent table (a client without a breaker) is an error naming it.
        """
        return apply_overrides(self, overrides, source=f"<{self.name}>")

    def parameters(self, *, defaults: bool = False) -> dict[str, Any]:
        """Every setting by dotted path (``clients.web.retry.max_attempts``); without ``defaults``, only
        those differing from their default (and ``name``, ``duration``, ``warmup``, ``slo_latency``)."""
        return flat_parameters(self, defaults=defaults)

    @property
    def multi_tier(self) -> bool:
        """True when the scenario needs the multi-tier runtime (``sim.graph``): edges, routes,
        replicas, balancers, gates, caches, or clients choosing routes."""
        return bool(
            self.edges
            or self.defences is not None
            or any(s.multi_tier for s in self.services.values())
            or any(g.routes or g.ips != 1 or g.new_connections for g in self.clients.values())
        )

    @property
    def fixed(self) -> bool:
        """True when every group has a fixed number of requests (the run may end early)."""
        return all(isinstance(g.workload, Fixed) for g in self.clients.values())


def scenario_problems(sc: Any) -> list[ConfigError]:
    """Every rule that spans a scenario's parts, broken by ``sc`` (a ``Scenario`` or the same attributes).

    Each problem is a ``ConfigError`` naming the dotted path it is about; the list is empty when none.
    """
    out: list[ConfigError] = []

    def bad(path: str, value: object, text: str) -> None:
        out.append(ConfigError("Scenario", path, value, text))

    if sc.warmup >= sc.duration:
        bad("warmup", sc.warmup, f"must be < duration ({sc.duration})")
    if sc.duration / sc.bin_width > 1_000_000:
        bad("bin_width", sc.bin_width, "must give at most 1000000 bins")
    if sc.duration / sc.scrape_interval > 100_000:
        bad("scrape_interval", sc.scrape_interval, "must give at most 100000 scrapes")
    if not sc.clients:
        bad("clients", sc.clients, "must define at least one client group")
    edges = getattr(sc, "edges", {})
    tables = (("clients", sc.clients), ("services", sc.services), ("links", sc.links), ("edges", edges))
    for kind, table in tables:
        for key in table:
            if not (isinstance(key, str) and key and all(c.isalnum() or c in "_-" for c in key)):
                bad(kind, key, "names must be letters, digits, _ or -")
    for gname, g in sc.clients.items():
        if g.target not in sc.services:
            bad(f"clients.{gname}.target", g.target, "must name a service")
        if g.link is not None and g.link not in sc.links:
            bad(f"clients.{gname}.link", g.link, "must name a link")
    out.extend(fault_problems(sc))
    if edges or any(s.routes for s in sc.services.values()) or any(g.routes for g in sc.clients.values()):
        out.extend(graph_problems(sc))
    defences = getattr(sc, "defences", None)
    if defences is not None:
        out.extend(defences.problems(sc.services))
    if not out:
        out.extend(zero_delay_problems(sc))
    return out
