"""Circuit breaker configuration: window, thresholds, waits, probes, what counts.

Defaults follow resilience4j (window of 100 calls, 50 % failure rate, 100
minimum calls, 60 s open, 10 half-open probes); the slow-call check is off
until ``slow_call_duration`` is set.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from .._config import Config, ConfigError, non_negative, positive, rule
from ..outcome import OutcomeKind
from .state import BreakerState

__all__ = ["BreakerConfig", "WindowType"]

MAX_COUNT_WINDOW = 1_000_000
MAX_BUCKETS = 100_000
_RECORDABLE = (OutcomeKind.ERROR, OutcomeKind.TIMEOUT, OutcomeKind.REJECTED)


class WindowType(enum.Enum):
    """How the closed-state window is bounded: by the last N calls or the last N seconds."""

    COUNT = "count"
    TIME = "time"


def _rate(v: float) -> bool:
    return 0 < v <= 1


def _labels(v: tuple[str, ...]) -> bool:
    return isinstance(v, (tuple, list)) and all(isinstance(s, str) and s for s in v)


@dataclass(frozen=True, slots=True)
class BreakerConfig(Config):
    """Settings of one circuit breaker.

    ``window_size`` counts calls for a ``count`` window and seconds for a
    ``time`` window (made of ``bucket_seconds`` buckets). Rates are fractions:
    the breaker trips when, with at least ``minimum_calls`` in the window, the
    failure rate or the slow-call rate reaches its threshold, or (optional)
    after ``consecutive_failures`` failures in a row. The open wait grows by
    ``wait_multiplier`` per consecutive re-open up to ``wait_max``, with
    ±``wait_jitter`` proportional jitter (a ``CircuitBreaker`` may instead be
    given a ``break_duration`` function). ``max_wait_in_half_open`` = 0 waits
    for the probes forever; when it expires the breaker moves to
    ``state_after_max_wait_in_half_open`` (open or closed; resilience4j's
    ``transitionToStateAfterWaitDuration``). Outcomes whose evidence is in ``ignored_evidence``
    are not recorded; kinds outside ``record_kinds`` count as successes.
    """

    window_type: WindowType = WindowType.COUNT
    window_size: float = field(default=100.0, metadata=rule(positive, "must be > 0 and finite"))
    bucket_seconds: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    failure_rate_threshold: float = field(default=0.5, metadata=rule(_rate, "must be in (0, 1]"))
    slow_call_duration: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    slow_call_rate_threshold: float = field(default=1.0, metadata=rule(_rate, "must be in (0, 1]"))
    minimum_calls: int = field(default=100, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    wait_in_open: float = field(default=60.0, metadata=rule(positive, "must be > 0 and finite"))
    wait_multiplier: float = field(
        default=1.0, metadata=rule(lambda v: math.isfinite(v) and v >= 1, "must be >= 1 and finite")
    )
    wait_max: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    wait_jitter: float = field(default=0.0, metadata=rule(lambda v: 0 <= v <= 1, "must be in [0, 1]"))
    permitted_calls_in_half_open: int = field(default=10, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    max_wait_in_half_open: float = field(
        default=0.0, metadata=rule(non_negative, "must be >= 0 and finite (0 = unbounded)")
    )
    state_after_max_wait_in_half_open: BreakerState = BreakerState.OPEN
    consecutive_failures: int | None = field(default=None, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    ignored_evidence: tuple[str, ...] = field(
        default=(), metadata=rule(_labels, "must be a list of non-empty evidence labels")
    )
    record_kinds: tuple[OutcomeKind, ...] = _RECORDABLE

    def _cross_checks(self) -> None:
        after = self.state_after_max_wait_in_half_open
        if after not in (BreakerState.OPEN, BreakerState.CLOSED):
            raise ConfigError(
                type(self).__name__,
                "state_after_max_wait_in_half_open",
                after.value,
                "must be open or closed",
            )
        object.__setattr__(self, "ignored_evidence", tuple(self.ignored_evidence))
        self._normalise_record_kinds()
        if self.window_type is WindowType.COUNT:
            if not float(self.window_size).is_integer() or self.window_size > MAX_COUNT_WINDOW:
                raise self._error(
                    "window_size", f"must be a whole number of calls <= {MAX_COUNT_WINDOW} for a count window"
                )
            if self.minimum_calls > self.window_size:
                raise self._error(
                    "minimum_calls", f"must be <= window_size ({int(self.window_size)}) for a count window"
                )
        else:
            buckets = self.window_size / self.bucket_seconds
            if abs(buckets - round(buckets)) > 1e-9 * max(1.0, buckets) or round(buckets) < 1:
                raise self._error(
                    "bucket_seconds", f"must divide window_size ({self.window_size}) into whole buckets"
                )
            if round(buckets) > MAX_BUCKETS:
                raise self._error("bucket_seconds", f"must give at most {MAX_BUCKETS} buckets per window")
        if self.wait_max is not None and self.wait_max < self.wait_in_open:
            raise self._error("wait_max", f"must be >= wait_in_open ({self.wait_in_open})")
        if self.wait_multiplier > 1 and self.wait_max is None:
            raise self._error("wait_max", "must be set when wait_multiplier > 1")

    def _normalise_record_kinds(self) -> None:
        raw = self.record_kinds
        if not isinstance(raw, (tuple, list)) or not raw:
            raise self._error("record_kinds", "must be a non-empty list of error, timeout, rejected")
        kinds: list[OutcomeKind] = []
        for k in raw:
            try:
                kind = OutcomeKind(k)
            except ValueError:
                kind = OutcomeKind.SUCCESS  # rejected just below
            if kind not in _RECORDABLE:
                raise self._error("record_kinds", "must contain only error, timeout, rejected")
            if kind not in kinds:
                kinds.append(kind)
        object.__setattr__(self, "record_kinds", tuple(kinds))

    @property
    def buckets(self) -> int:
        """Number of buckets of a time window."""
        return round(self.window_size / self.bucket_seconds)
