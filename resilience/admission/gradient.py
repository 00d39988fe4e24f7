"""Gradient (delay based) concurrency limit, Vegas style.

After Netflix concurrency-limits' ``GradientLimit`` (and ``Gradient2Limit``'s
symmetric smoothing). Per sample:

* ``rtt_noload`` is the minimum round trip seen; every ``probe_interval``
  samples it is reset to the current sample so a lasting latency shift is
  learned (Netflix resets with a jittered probe; this one is deterministic).
* ``gradient = clamp(rtt_tolerance * rtt_noload / rtt, 0.5, 1.0)``: 1 while the
  round trip stays within the tolerance of the no-load one, down to 0.5 under
  queueing (the floor filters outliers).
* ``new = limit * gradient + queue_size`` (``queue_size`` defaults to
  ``sqrt(limit)``, the allowance that lets the limit probe upwards); a drop
  gives ``new = limit * backoff_ratio`` instead.
* ``limit = (1 - smoothing) * limit + smoothing * new``, clamped to
  [min_limit, max_limit]. Growth is skipped while fewer than half the limit
  are in flight (app-limited); drops always reduce.

Not thread-safe on its own: the ConcurrencyLimiter calls it under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._config import Config, rule

__all__ = ["GradientConfig", "GradientLimit"]


def _at_least_one(v: int) -> bool:
    return v >= 1


@dataclass(frozen=True, slots=True)
class GradientConfig(Config):
    """Gradient-limit settings; ``queue_size=None`` means ``sqrt(limit)``."""

    kind = "gradient"

    initial_limit: int = field(default=20, metadata=rule(_at_least_one, "must be >= 1"))
    min_limit: int = field(default=1, metadata=rule(_at_least_one, "must be >= 1"))
    max_limit: int = field(default=200, metadata=rule(_at_least_one, "must be >= 1"))
    smoothing: float = field(default=0.2, metadata=rule(lambda v: 0 < v <= 1, "must be in (0, 1]"))
    rtt_tolerance: float = field(
        default=2.0, metadata=rule(lambda v: math.isfinite(v) and v >= 1, "must be >= 1 and finite")
    )
    queue_size: int | None = field(default=None, metadata=rule(lambda v: v >= 0, "must be >= 0"))
    backoff_ratio: float = field(default=0.5, metadata=rule(lambda v: 0 < v < 1, "must be in (0, 1)"))
    probe_interval: int = field(default=1000, metadata=rule(lambda v: v >= 0, "must be >= 0 (0: never)"))

    def _cross_checks(self) -> None:
        if self.min_limit > self.max_limit:
            raise self._error("min_limit", f"must be <= max_limit ({self.max_limit})")
        if not self.min_limit <= self.initial_limit <= self.max_limit:
            raise self._error("initial_limit", f"must be in [{self.min_limit}, {self.max_limit}]")

    def build(self) -> GradientLimit:
        return GradientLimit(self)


class GradientLimit:
    """The estimated limit (a float; ``limit`` is its integer part) and its update rule."""

    __slots__ = ("config", "estimate", "last_gradient", "rtt_noload", "samples")

    def __init__(self, config: GradientConfig | None = None) -> None:
        self.config = config or GradientConfig()
        self.estimate = float(self.config.initial_limit)
        self.rtt_noload: float | None = None
        self.samples = 0
        self.last_gradient = 1.0

    @property
    def limit(self) -> int:
        return int(self.estimate)

    def update(self, rtt: float, in_flight: int, dropped: bool) -> int:
        """Feed one finished call's round trip; ``in_flight`` as seen when it started."""
        c = self.config
        rtt = max(rtt, 1e-9)
        self.samples += 1
        noload = self.rtt_noload
        if noload is None or rtt < noload or (c.probe_interval and self.samples % c.probe_interval == 0):
            self.rtt_noload = noload = rtt
        est = self.estimate
        if dropped:
            new = est * c.backoff_ratio
        else:
            if in_flight * 2 < est:
                return self.limit  # app-limited: no evidence about capacity
            self.last_gradient = gradient = max(0.5, min(1.0, c.rtt_tolerance * noload / rtt))
            queue = math.sqrt(est) if c.queue_size is None else c.queue_size
            new = est * gradient + queue
        new = (1 - c.smoothing) * est + c.smoothing * new
        self.estimate = min(float(c.max_limit), max(float(c.min_limit), new))
        return self.limit
