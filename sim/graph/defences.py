"""Run-time defences of the seed's chapter 5: flood diversion and a timeout tuner on the tag registry.

``FloodDiversion`` is the L4 flood detector of the defended configuration: every new connection
(or refused connection attempt) at the tier is shown to a per-IP sliding-window detector
(``sim.model.flood.FloodDetector``); an IP with more than ``threshold`` new connections within
``window`` seconds is flagged, and while it stays over the threshold its requests go to the degraded
static-page cluster instead of the tier's route: answered ``answer_time`` seconds later, counted as
degraded (``label``), never as a success. The cluster serves fixed pages and is not a bottleneck, so
it is modelled as that fixed answer time without a capacity limit.

``TimeoutTuner`` watches the latencies of one route at a tier (the gateway's payment requests,
from their arrival at the tier to its answer) and, evaluated every ``period`` seconds, cuts the
tag's threshold in the tier's ``resilience.timeouts.TimeoutRegistry`` from its configured value to
``cut_to`` once the p99 of the latencies that ended in the last ``window`` seconds reaches
``trigger``. The tier resolves a tagged route's timeout from the registry for every request that
arrives, so the cut takes effect at run time; the time between the first slow answer and the
evaluation that sees the p99 at the trigger is the detection delay, and it counts. "Reaches", not
"exceeds": a route whose own timeout equals the trigger answers a timed-out request exactly at the
trigger, so its p99 can reach the trigger but never pass it. The cut is one-way (the seed reports
the cut, not a restore rule).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from resilience._config import Config, ConfigError, positive, rule
from resilience.timeouts import TimeoutRegistry
from sim.model.flood import FloodDetector
from sim.scenario.gates import FloodConfig

__all__ = ["Defences", "FloodDiversion", "FloodDiversionConfig", "Installed", "TimeoutTuner", "TunerConfig"]

_POSITIVE = rule(positive, "must be > 0 and finite")
_ROUNDING = 1.0 - 1e-9  # a latency of ``end - start`` may fall a rounding error short of the bound


def _tag_ok(v: object) -> bool:
    return isinstance(v, str) and v != "" and v == v.strip()


@dataclass(frozen=True, slots=True)
class TunerConfig(Config):
    """Cut ``tag``'s timeout to ``cut_to`` when the ``quantile`` of ``route`` at ``service`` over the last
    ``window`` seconds reaches ``trigger``, evaluated every ``period`` seconds."""

    service: str = field(default="gateway", metadata=rule(_tag_ok, "must be a service name"))
    route: str = field(default="payment", metadata=rule(_tag_ok, "must be a route name"))
    tag: str = field(default="payment", metadata=rule(_tag_ok, "must be a tag without outer spaces"))
    trigger: float = field(default=1.0, metadata=_POSITIVE)
    cut_to: float = field(default=0.3, metadata=_POSITIVE)
    window: float = field(default=5.0, metadata=_POSITIVE)
    period: float = field(default=1.0, metadata=_POSITIVE)
    quantile: float = field(default=0.99, metadata=rule(lambda v: 0 < v < 1, "must be in (0, 1)"))


def nearest_rank(values: list[float], q: float) -> float:
    """The ``q``-quantile by nearest rank (the smallest value with at least ``q`` of the values at or
    below it); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = max(1, math.ceil(q * len(ordered)))
    return ordered[k - 1]


class TimeoutTuner:
    """Watches latencies (``observe``) and cuts a tag's threshold in ``registry`` (``evaluate``).

    ``history`` keeps every evaluation as ``(time, quantile or NaN, threshold in force after it)``;
    ``cut_at`` is the time of the evaluation that cut the threshold (None: not cut).
    """

    __slots__ = ("_seen", "config", "cut_at", "history", "registry")

    def __init__(self, config: TunerConfig, registry: TimeoutRegistry) -> None:
        self.config = config
        self.registry = registry
        self._seen: deque[tuple[float, float]] = deque()  # (end time, latency), in time order
        self.cut_at: float | None = None
        self.history: list[tuple[float, float, float]] = []

    def observe(self, now: float, latency: float) -> None:
        """A request of the watched route ended at ``now`` after ``latency`` seconds."""
        self._seen.append((now, latency))

    def current(self, now: float) -> float:
        """The quantile of the latencies that ended in ``(now - window, now]``; NaN if none."""
        seen = self._seen
        start = now - self.config.window
        while seen and seen[0][0] <= start:
            seen.popleft()
        return nearest_rank([lat for _, lat in seen], self.config.quantile)

    def evaluate(self, now: float) -> bool:
        """One periodic evaluation; True if it cut the threshold now."""
        cfg = self.config
        q = self.current(now)
        acted = False
        if self.cut_at is None and q >= cfg.trigger * _ROUNDING:
            self.registry.update({cfg.tag: cfg.cut_to})
            self.cut_at = now
            acted = True
        self.history.append((now, q, self.registry.timeout_for(tag=cfg.tag)))
        return acted


@dataclass(frozen=True, slots=True)
class FloodDiversionConfig(Config):
    """At tier ``service``: an IP with more than ``threshold`` new connections within ``window`` seconds
    is answered by the static-page cluster (``answer_time`` seconds, degraded as ``label``)."""

    service: str = field(default="l4", metadata=rule(_tag_ok, "must be a service name"))
    threshold: int = field(default=500, metadata=rule(lambda v: 1 <= v <= 1_000_000, "must be in 1..1000000"))
    window: float = field(default=1.0, metadata=_POSITIVE)
    max_ips: int = field(
        default=100_000, metadata=rule(lambda v: 1 <= v <= 10_000_000, "must be in 1..10000000")
    )
    answer_time: float = field(default=0.005, metadata=_POSITIVE)
    label: str = field(default="static_page", metadata=rule(_tag_ok, "must be a label without outer spaces"))

    def detector(self) -> FloodConfig:
        """The detector's own config."""
        return FloodConfig(threshold=self.threshold, window=self.window, max_ips=self.max_ips)


@dataclass(frozen=True, slots=True)
class Defences(Config):
    """The run-time defences of a scenario: flood diversion at one tier, timeout tuners."""

    flood: FloodDiversionConfig | None = None
    tuners: tuple[TunerConfig, ...] = ()

    def _cross_checks(self) -> None:
        tags = [(t.service, t.tag) for t in self.tuners]
        if len(set(tags)) != len(tags):
            raise self._error("tuners", "must not tune the same service and tag twice")

    def problems(self, services: Any) -> list[ConfigError]:
        """What the defences need from the scenario's ``services``: the tiers and tagged routes they name."""
        out = []
        if self.flood is not None and self.flood.service not in services:
            out.append(
                ConfigError("Scenario", "defences.flood.service", self.flood.service, "must name a service")
            )
        for i, t in enumerate(self.tuners):
            where = f"defences.tuners[{i}]"
            svc = services.get(t.service)
            if svc is None:
                out.append(ConfigError("Scenario", f"{where}.service", t.service, "must name a service"))
                continue
            route = svc.routes.get(t.route)
            if route is None:
                out.append(
                    ConfigError("Scenario", f"{where}.route", t.route, f"must name a route of {t.service}")
                )
            elif route.tag != t.tag:
                out.append(
                    ConfigError("Scenario", f"{where}.tag", t.tag, f"must be the tag of route {t.route}")
                )
        return out

    def install(self, model: Any) -> Installed:
        """Attach the defences to a built model (``sim.graph.engine.build``), before it runs."""
        problems = self.problems(model.sc.services)
        if problems:
            raise problems[0]
        flood = None
        if self.flood is not None:
            flood = FloodDiversion(self.flood)
            model.tiers[self.flood.service].flood = flood
        tuners = []
        for t in self.tuners:
            tier = model.tiers[t.service]
            tuner = TimeoutTuner(t, tier.registry)
            tier.watch[t.route] = tuner
            _every(model.env, t.period, tuner.evaluate)
            tuners.append(tuner)
        return Installed(flood, tuners)


class Installed:
    """The defences attached to one run: the flood diversion (or None) and the tuners."""

    __slots__ = ("flood", "tuners")

    def __init__(self, flood: FloodDiversion | None, tuners: list[TimeoutTuner]) -> None:
        self.flood = flood
        self.tuners = tuners


def _every(env: Any, period: float, fn: Any) -> None:
    """Call ``fn(now)`` at ``period``, ``2 * period``, … (from the index, without drift)."""
    k = [1]

    def tick(_ev: object) -> None:
        fn(env.now)
        k[0] += 1
        env.timeout(k[0] * period - env.now).callbacks.append(tick)

    env.timeout(period).callbacks.append(tick)


class FloodDiversion:
    """The flood detector of one tier and the IPs it diverts.

    Call ``divert`` before the tier's gate for every request; call ``opened`` for every new
    connection (or refused connection attempt) the gate saw from a request not diverted.
    Counters: ``diverted`` requests; ``flagged_at`` maps each IP ever flagged to when it first was.
    """

    __slots__ = ("config", "detector", "diverted", "flagged", "flagged_at")

    def __init__(self, config: FloodDiversionConfig) -> None:
        self.config = config
        self.detector = FloodDetector(config.detector())
        self.flagged: set[int] = set()  # IPs diverted now
        self.flagged_at: dict[int, float] = {}
        self.diverted = 0

    def divert(self, ip: int, new_connection: bool, now: float) -> bool:
        """True when this request of ``ip`` goes to the static-page cluster. A diverted IP's new
        connections still count, so it stays diverted while it floods and returns once it stops."""
        if ip not in self.flagged:
            return False
        det = self.detector
        if new_connection:
            det.observe(ip, now)
        if det.count(ip, now) > self.config.threshold:
            self.diverted += 1
            return True
        self.flagged.discard(ip)
        return False

    def opened(self, ip: int, now: float) -> None:
        """``ip`` opened (or tried to open) a new connection at the tier."""
        if self.detector.observe(ip, now):
            self.flagged.add(ip)
            self.flagged_at.setdefault(ip, now)
