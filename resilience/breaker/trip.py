"""What a breaker counts and when it trips: outcome codes, the closed-state rule, half-open judging.

* **Slow** means ``duration >= slow_call_duration`` (resilience4j: strictly
  greater), so a call cut by a timeout equal to the slow threshold is slow.
* Outcomes whose evidence is in ``ignored_evidence`` are ``IGNORED``; kinds
  outside ``record_kinds`` count as successes (resilience4j's
  ``recordExceptions``).
* **Closed:** the rule is checked after every recorded outcome once
  ``minimum_calls`` are in the window (resilience4j), not only after failures
  (gobreaker), so a rising slow-success rate can trip. A rate trips when it
  *reaches* its threshold. ``consecutive_failures`` (gobreaker's
  ``ReadyToTrip``) trips regardless of ``minimum_calls``; any success, slow or
  not, resets the run.
* **Half-open:** once ``permitted_calls_in_half_open`` probe outcomes are in,
  their failure and slow rates decide close or re-open; consecutive failures
  play no part.
"""

from __future__ import annotations

import functools
from typing import Any

from ..outcome import Outcome, OutcomeKind
from .config import BreakerConfig
from .state import BreakerState
from .window import FAILED, SLOW, Window

__all__ = ["IGNORED", "ProbeRound", "TripRule"]

IGNORED = -1
"""The code of an outcome that is not recorded (its evidence is ignored)."""
_SUCCESS = OutcomeKind.SUCCESS


@functools.lru_cache(maxsize=64)
def _frozen(items: tuple[Any, ...]) -> frozenset[Any]:
    """One shared frozenset per distinct configured tuple (breakers of one config share them)."""
    return frozenset(items)


class ProbeRound:
    """One half-open round: probe permits out (``granted``) and the probes' outcomes so far."""

    __slots__ = ("calls", "failures", "granted", "slow")

    def __init__(self) -> None:
        self.granted = self.calls = self.failures = self.slow = 0

    def add(self, code: int) -> None:
        self.calls += 1
        if code & FAILED:
            self.failures += 1
        if code & SLOW:
            self.slow += 1


class TripRule:
    """Thresholds, minimum calls and the consecutive-failure run of one breaker."""

    __slots__ = (
        "_fail_kinds", "failure_rate", "ignored", "min_calls", "probes", "run", "run_limit", "slow_duration",
        "slow_rate",
    )  # fmt: skip

    def __init__(self, c: BreakerConfig) -> None:
        self.min_calls = c.minimum_calls
        self.failure_rate = c.failure_rate_threshold
        self.slow_rate = c.slow_call_rate_threshold
        self.slow_duration = float("inf") if c.slow_call_duration is None else c.slow_call_duration
        self.run_limit = c.consecutive_failures or 0
        self.probes = c.permitted_calls_in_half_open
        self.ignored = _frozen(c.ignored_evidence)
        self._fail_kinds = _frozen(c.record_kinds)
        self.run = 0  # consecutive failures so far (closed state)

    def code(self, outcome: Outcome, duration: float) -> int:
        """``IGNORED``, or the window code: ``FAILED`` and ``SLOW`` bits."""
        if self.ignored and outcome.evidence in self.ignored:
            return IGNORED
        kind = outcome.kind
        failed = kind is not _SUCCESS and kind in self._fail_kinds
        return (FAILED if failed else 0) | (SLOW if duration >= self.slow_duration else 0)

    def trips(self, w: Window) -> bool:
        """Whether the window's rates, with at least ``minimum_calls`` in it, reach a threshold."""
        calls = w.calls
        return calls >= self.min_calls and (
            w.failures / calls >= self.failure_rate or w.slow / calls >= self.slow_rate
        )

    def closed_outcome(self, w: Window, code: int) -> bool:
        """After ``code`` entered the window: whether the breaker trips."""
        if code & FAILED:
            self.run += 1
            if self.run_limit and self.run >= self.run_limit:
                return True
        else:
            self.run = 0
        return self.trips(w)

    def judge(self, r: ProbeRound) -> BreakerState | None:
        """The round's verdict once every probe answered (CLOSED or OPEN), else None."""
        calls = r.calls
        if calls < self.probes:
            return None
        if r.failures / calls >= self.failure_rate or r.slow / calls >= self.slow_rate:
            return BreakerState.OPEN
        return BreakerState.CLOSED
