"""Workload configs: how a client group offers requests."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from resilience._config import Config, non_negative, positive, rule
from sim.scenario.distributions import ZERO, Distribution

__all__ = ["Burst", "ClosedLoop", "Fixed", "Poisson", "Ramp", "Schedule", "Workload"]


class Workload(Config):
    """How requests arrive. Rates are for the whole group (requests per second)."""

    __slots__ = ()

    def peak_rate(self) -> float:
        """The highest open-loop rate (0 for closed loops)."""
        return 0.0


@dataclass(frozen=True, slots=True)
class Poisson(Workload):
    """Open loop: Poisson arrivals at ``rate``."""

    kind = "poisson"
    rate: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))

    def peak_rate(self) -> float:
        return self.rate


@dataclass(frozen=True, slots=True)
class ClosedLoop(Workload):
    """Closed loop: ``concurrency`` users per instance, each waiting ``think`` between requests."""

    kind = "closed"
    concurrency: int = field(default=1, metadata=rule(lambda v: 1 <= v <= 100_000, "must be in 1..100000"))
    think: Distribution = ZERO


@dataclass(frozen=True, slots=True)
class Ramp(Workload):
    """Poisson whose rate moves linearly from ``from_rate`` to ``to_rate`` over [start, start + length]."""

    kind = "ramp"
    from_rate: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    to_rate: float = field(default=1.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    length: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))

    def _cross_checks(self) -> None:
        if self.from_rate == 0 and self.to_rate == 0:
            raise self._error("to_rate", "from_rate and to_rate must not both be 0")

    def peak_rate(self) -> float:
        return max(self.from_rate, self.to_rate)

    def rate_at(self, t: float) -> float:
        if t <= self.start:
            return self.from_rate
        if t >= self.start + self.length:
            return self.to_rate
        return self.from_rate + (self.to_rate - self.from_rate) * (t - self.start) / self.length


@dataclass(frozen=True, slots=True)
class Burst(Workload):
    """Background Poisson ``rate`` plus ``count`` extra requests at ``at``, spread over ``spread`` s."""

    kind = "burst"
    rate: float = field(default=1.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    at: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    count: int = field(default=0, metadata=rule(lambda v: 0 <= v <= 100_000_000, "must be in 0..100000000"))
    spread: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))

    def peak_rate(self) -> float:
        return self.rate


def _steps(v: tuple[tuple[float, float], ...]) -> bool:
    if not v:
        return False
    times = []
    for s in v:
        if not (isinstance(s, tuple) and len(s) == 2):
            return False
        t, r = s
        for x in (t, r):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not (0 <= x < math.inf):
                return False
        times.append(t)
    return times[0] == 0 and all(a < b for a, b in itertools.pairwise(times))


@dataclass(frozen=True, slots=True)
class Schedule(Workload):
    """Piecewise-constant Poisson rate: ``steps = [[t0=0, rate0], [t1, rate1], …]``."""

    kind = "schedule"
    steps: tuple[tuple[float, float], ...] = field(
        default=((0.0, 1.0),),
        metadata=rule(_steps, "must be [[time, rate], …] pairs >= 0, starting at time 0, times increasing"),
    )

    def peak_rate(self) -> float:
        return max(r for _, r in self.steps)


@dataclass(frozen=True, slots=True)
class Fixed(Workload):
    """``requests`` per instance, one after the other; the run ends when all have finished."""

    kind = "fixed"
    requests: int = field(
        default=1, metadata=rule(lambda v: 1 <= v <= 100_000_000, "must be in 1..100000000")
    )
    think: Distribution = ZERO
