"""Point-in-time copies of a breaker's metrics, for exporters and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from .state import BreakerState

__all__ = ["CALL_KINDS", "BreakerCounts", "BreakerMetrics", "snapshot"]

CALL_KINDS = ("successful", "failed", "slow_successful", "slow_failed", "ignored", "not_permitted")
"""The ``kind`` label values of ``resilience_breaker_calls_total``, in the order ``counts`` gives them."""


class BreakerCounts(NamedTuple):
    """What ``CircuitBreaker.counts(now)`` reads in one step: the state, calls by kind (in
    ``CALL_KINDS`` order), late outcomes, and the rates ``metrics(now)`` would report."""

    state: BreakerState
    kinds: tuple[int, int, int, int, int, int]
    late: int
    failure_rate: float
    slow_call_rate: float


@dataclass(frozen=True, slots=True)
class BreakerMetrics:
    """What a breaker has seen.

    Rates and ``window_*`` cover the closed-state window; in half-open they
    cover the probes so far, and after a half-open round re-opened the breaker,
    that round's probes (until it closes). They are 0 while empty. Counters
    are cumulative since construction and survive ``reset`` (they are
    Prometheus counters). ``released`` counts permits handed back without an
    outcome (cancellations). ``late`` counts outcomes and releases of permits
    from an earlier generation (the breaker changed state since the call was
    permitted); they are also counted by kind, and decide nothing.
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
    late: int = 0
    transitions: Mapping[tuple[BreakerState, BreakerState], int] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        """Outcomes recorded: successful + failed + slow_successful + slow_failed."""
        return self.successful + self.failed + self.slow_successful + self.slow_failed

    def calls_by_kind(self) -> dict[str, int]:
        """Counts keyed by the ``kind`` label of ``resilience_breaker_calls_total``."""
        values = (
            self.successful,
            self.failed,
            self.slow_successful,
            self.slow_failed,
            self.ignored,
            self.not_permitted,
        )
        return dict(zip(CALL_KINDS, values, strict=True))

    def state_one_hot(self) -> dict[str, int]:
        """The ``resilience_breaker_state`` gauge: 1 for the current state, 0 for the others."""
        return {s.value: int(s is self.state) for s in BreakerState}


def snapshot(
    name: str,
    state: BreakerState,
    window: tuple[int, int, int],
    kinds: Sequence[int],
    released: int,
    late: int,
    transitions: Mapping[tuple[BreakerState, BreakerState], int],
) -> BreakerMetrics:
    """A ``BreakerMetrics`` from ``window`` (calls, failures, slow) and calls by kind (``CALL_KINDS``)."""
    calls, failures, slow = window
    successful, failed, slow_successful, slow_failed, ignored, not_permitted = kinds
    return BreakerMetrics(
        name,
        state,
        failures / calls if calls else 0.0,
        slow / calls if calls else 0.0,
        calls,
        failures,
        slow,
        successful,
        failed,
        slow_successful,
        slow_failed,
        ignored,
        not_permitted,
        released,
        late,
        dict(transitions),
    )
