"""A point-in-time copy of a breaker's metrics, for exporters and tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .state import BreakerState

__all__ = ["BreakerMetrics"]


@dataclass(frozen=True, slots=True)
class BreakerMetrics:
    """What a breaker has seen.

    Rates cover the closed-state window (in half-open: the probes so far) and
    are 0 while it is empty; counters are cumulative since construction and
    survive ``reset`` (they are Prometheus counters). ``released`` counts
    permissions handed back without an outcome (cancellations).
    """

    name: str
    state: BreakerState
    failure_rate: float
    slow_call_rate: float
    window_calls: int
    window_failures: int
    window_slow: int
    successful: int
    failed: int
    slow_successful: int
    slow_failed: int
    ignored: int
    not_permitted: int
    released: int
    transitions: Mapping[tuple[BreakerState, BreakerState], int] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        """Outcomes recorded: successful + failed + slow_successful + slow_failed."""
        return self.successful + self.failed + self.slow_successful + self.slow_failed

    def calls_by_kind(self) -> dict[str, int]:
        """Counts keyed by the ``kind`` label of ``resilience_breaker_calls_total``."""
        return {
            "successful": self.successful,
            "failed": self.failed,
            "slow_successful": self.slow_successful,
            "slow_failed": self.slow_failed,
            "ignored": self.ignored,
            "not_permitted": self.not_permitted,
        }

    def state_one_hot(self) -> dict[str, int]:
        """The ``resilience_breaker_state`` gauge: 1 for the current state, 0 for the others."""
        return {s.value: int(s is self.state) for s in BreakerState}
