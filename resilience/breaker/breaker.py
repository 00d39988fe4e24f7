"""The circuit breaker: a thread-safe state machine told the time and each call's outcome.

Semantics, and where peers differ:

* **Open → half-open at ``now >= opened_at + wait``.** resilience4j moves when
  the clock is strictly after the wait; we use ``>=`` so a simulated request at
  exactly the boundary probes, deterministically. The move happens lazily, in
  ``try_acquire``; ``state_at(now)`` reports it without changing anything.
* **Trip checked after every recorded outcome** once ``minimum_calls`` are in
  the window (resilience4j), not only after failures (gobreaker), so a rising
  slow-success rate can trip. A rate trips when it *reaches* its threshold.
* **Slow** means ``duration >= slow_call_duration`` (resilience4j: strictly
  greater), so a call cut by a timeout equal to the slow threshold is slow.
* **Consecutive failures** (gobreaker's ``ReadyToTrip``) trip in the closed
  state regardless of ``minimum_calls``; any success, slow or not, resets the
  run. In half-open the probes are judged by rate only.
* **Half-open** grants ``permitted_calls_in_half_open`` permissions and rejects
  the rest; once that many outcomes are in, their failure and slow rates decide
  close or re-open. ``max_wait_in_half_open`` > 0 re-opens when the probes take
  too long (checked on the next ``try_acquire`` or ``record``).
* **Open wait** = ``wait_in_open · wait_multiplier^(k-1)`` for the k-th open
  in a row (re-opens from half-open), capped at ``wait_max``, then scaled by
  ``1 ± wait_jitter`` drawn from the injected rng (jitter applies after the
  cap, so capped waits still spread). Closing or ``reset`` sets k back to 0.
* **What is recorded:** CANCELLED is never an outcome (``record`` treats it as
  ``release``, which frees a half-open permission); outcomes whose evidence is
  in ``ignored_evidence`` are counted as ``ignored`` and also free a half-open
  permission; kinds outside ``record_kinds`` count as successes (resilience4j's
  ``recordExceptions``). Outcomes arriving while open or forced open (calls
  permitted earlier) are counted but judge nothing.
* **FORCED_OPEN** rejects everything; **DISABLED** permits everything and
  records nothing (counters included) until ``reset`` or ``force_open``.
* **Closing resets the window.** It is kept while open, so the metrics show
  the rates that tripped the breaker.

Transitions are reported after the lock is released: to state listeners as
``(name, from_state, to_state, now)`` and to event listeners as
``TraceEvent(now, EventKind.STATE, 0, "from->to")``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..events import EventKind, Listener, TraceEvent
from ..outcome import Outcome, OutcomeKind
from ..rng import RandomSource
from .config import BreakerConfig, WindowType
from .snapshot import BreakerMetrics
from .state import BreakerState
from .window import FAILED, SLOW, CountWindow, TimeWindow, Window

__all__ = ["CircuitBreaker", "StateListener"]

StateListener = Callable[[str, BreakerState, BreakerState, float], None]
"""Called as ``(name, from_state, to_state, now)`` after each transition."""
Transition = tuple[BreakerState, BreakerState, float]

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN
_DISABLED = BreakerState.DISABLED
_SUCCESS = OutcomeKind.SUCCESS
_CANCELLED = OutcomeKind.CANCELLED
_INF = float("inf")


class CircuitBreaker:
    """A circuit breaker (implements ``BreakerLike``); every method takes the time ``now``."""

    __slots__ = (
        "_consec", "_consec_limit", "_fail_kinds", "_failed", "_fr", "_half_open_at", "_ho_calls",
        "_ho_failures", "_ho_granted", "_ho_max_wait", "_ho_permitted", "_ho_slow", "_ignored",
        "_ignored_n", "_listeners", "_lock", "_min_calls", "_not_permitted", "_open_base", "_open_until",
        "_opened_at", "_opens", "_released", "_rng", "_slow_dur", "_slow_failed", "_slow_successful", "_sr",
        "_state", "_state_listeners", "_successful", "_transitions", "_window", "config", "last_used",
        "name",
    )  # fmt: skip

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        name: str = "default",
        rng: RandomSource | None = None,
        listeners: Iterable[Listener] = (),
        state_listeners: Iterable[StateListener] = (),
    ) -> None:
        self.config = c = config if config is not None else BreakerConfig()
        if c.wait_jitter > 0 and rng is None:
            raise ValueError("CircuitBreaker: wait_jitter > 0 needs an rng (e.g. random.Random(seed))")
        self.name = name
        self._rng = rng
        self._lock: Any = threading.Lock()
        self._listeners: tuple[Listener, ...] = tuple(listeners)
        self._state_listeners: tuple[StateListener, ...] = tuple(state_listeners)
        self._window: Window = (
            CountWindow(int(c.window_size))
            if c.window_type is WindowType.COUNT
            else TimeWindow(c.buckets, c.bucket_seconds)
        )
        self._min_calls = c.minimum_calls
        self._fr = c.failure_rate_threshold
        self._sr = c.slow_call_rate_threshold
        self._slow_dur = _INF if c.slow_call_duration is None else c.slow_call_duration
        self._consec_limit = c.consecutive_failures or 0
        self._ignored = frozenset(c.ignored_evidence)
        self._fail_kinds = frozenset(c.record_kinds)
        self._ho_permitted = c.permitted_calls_in_half_open
        self._ho_max_wait = c.max_wait_in_half_open
        self._state = _CLOSED
        self.last_used = -_INF
        self._opened_at = self._open_until = self._half_open_at = -_INF
        self._opens = 0
        self._open_base = c.wait_in_open
        self._ho_granted = self._ho_calls = self._ho_failures = self._ho_slow = 0
        self._consec = 0
        self._successful = self._failed = self._slow_successful = self._slow_failed = 0
        self._ignored_n = self._not_permitted = self._released = 0
        self._transitions: dict[tuple[BreakerState, BreakerState], int] = {}

    # -- the hot path -------------------------------------------------------------
    def try_acquire(self, now: float) -> bool:
        """Permission for one call now; a refusal is counted as not permitted."""
        lock = self._lock  # acquire/release: cheaper than ``with`` on this path
        lock.acquire()
        try:
            if now > self.last_used:  # never backwards: the registry stamps it too
                self.last_used = now
            if self._state is _CLOSED:
                return True
            granted, fired = self._acquire_slow(now)
        finally:
            lock.release()
        if fired:
            self._fire(fired)
        return granted

    def record(self, now: float, duration: float, outcome: Outcome) -> None:
        """Record a permitted call's outcome and duration."""
        kind = outcome.kind
        fired: list[Transition] | None
        lock = self._lock
        lock.acquire()
        try:
            if (
                self._state is _CLOSED
                and kind is _SUCCESS
                and duration < self._slow_dur
                and not (self._ignored and outcome.evidence in self._ignored)
            ):
                self._successful += 1
                self._consec = 0
                w = self._window
                w.add(now, 0)
                calls = w.calls
                if calls < self._min_calls or (w.failures / calls < self._fr and w.slow / calls < self._sr):
                    return
                fired = self._open(now)
            else:
                fired = self._record_slow(now, duration, outcome, kind)
        finally:
            lock.release()
        if fired:
            self._fire(fired)

    def release(self, now: float) -> None:
        """Return a permission whose call produced no outcome (cancelled)."""
        with self._lock:
            self._release_locked()

    # -- queries --------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        """The stored state (an expired open wait shows only on the next ``try_acquire``)."""
        return self._state

    def state_at(self, now: float) -> BreakerState:
        """The state a call at ``now`` would meet; never changes the breaker."""
        with self._lock:
            s = self._state
            if s is _OPEN and now >= self._open_until:
                return _HALF_OPEN
            if s is _HALF_OPEN and self._ho_max_wait and now >= self._half_open_at + self._ho_max_wait:
                return _OPEN
            return s

    @property
    def open_until(self) -> float:
        """When the current open wait ends (meaningful in OPEN)."""
        return self._open_until

    def window_check(self) -> bool:
        """Whether the window's running totals equal the sum over its slots or buckets."""
        with self._lock:
            return self._window.check()

    def metrics(self, now: float | None = None) -> BreakerMetrics:
        """A snapshot; with ``now``, the state and time-window totals as of ``now``."""
        state = self._state if now is None else self.state_at(now)
        with self._lock:
            if self._state is _HALF_OPEN:
                calls, failures, slow = self._ho_calls, self._ho_failures, self._ho_slow
            else:
                t = self._window.totals() if now is None else self._window.totals_at(now)
                calls, failures, slow = t.calls, t.failures, t.slow
            return BreakerMetrics(
                self.name,
                state,
                failures / calls if calls else 0.0,
                slow / calls if calls else 0.0,
                calls,
                failures,
                slow,
                self._successful,
                self._failed,
                self._slow_successful,
                self._slow_failed,
                self._ignored_n,
                self._not_permitted,
                self._released,
                dict(self._transitions),
            )

    def counts(self, now: float) -> tuple[tuple[int, int, int, int, int, int], float, float]:
        """Calls by kind (successful, failed, slow_successful, slow_failed, ignored, not_permitted)
        and the failure and slow-call rates at ``now``, as ``metrics(now)`` reports them, cheaply."""
        with self._lock:
            if self._state is _HALF_OPEN:
                calls, failures, slow = self._ho_calls, self._ho_failures, self._ho_slow
            else:
                calls, failures, slow, _ = self._window.totals_at(now)
            kinds = (
                self._successful,
                self._failed,
                self._slow_successful,
                self._slow_failed,
                self._ignored_n,
                self._not_permitted,
            )
        if not calls:
            return kinds, 0.0, 0.0
        return kinds, failures / calls, slow / calls

    # -- manual control -------------------------------------------------------------
    def force_open(self, now: float) -> None:
        """Reject every call until ``reset`` (or ``disable``)."""
        self._manual(_FORCED_OPEN, now)

    def disable(self, now: float) -> None:
        """Permit every call and record nothing until ``reset`` (or ``force_open``)."""
        self._manual(_DISABLED, now)

    def reset(self, now: float) -> None:
        """Back to CLOSED with an empty window and no open streak (counters are kept)."""
        self._manual(_CLOSED, now)

    def add_listener(self, listener: Listener) -> None:
        """Subscribe to STATE trace events."""
        self._listeners = (*self._listeners, listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """Subscribe to transitions as ``(name, from_state, to_state, now)``."""
        self._state_listeners = (*self._state_listeners, listener)

    # -- internals (called with the lock held) -----------------------------------------
    def _acquire_slow(self, now: float) -> tuple[bool, list[Transition] | None]:
        s = self._state
        fired: list[Transition] | None = None
        if s is _OPEN:
            if now < self._open_until:
                self._not_permitted += 1
                return False, None
            fired = self._to(_HALF_OPEN, now)
            s = _HALF_OPEN
        if s is _HALF_OPEN:
            if self._ho_max_wait and now >= self._half_open_at + self._ho_max_wait:
                fired = self._open(now, fired)
            elif self._ho_granted < self._ho_permitted:
                self._ho_granted += 1
                return True, fired
            self._not_permitted += 1
            return False, fired
        if s is _DISABLED:
            return True, None
        self._not_permitted += 1  # FORCED_OPEN
        return False, None

    def _record_slow(
        self, now: float, duration: float, outcome: Outcome, kind: OutcomeKind
    ) -> list[Transition] | None:
        s = self._state
        if s is _DISABLED:
            return None
        if kind is _CANCELLED:
            self._release_locked()
            return None
        fired: list[Transition] | None = None
        if s is _HALF_OPEN and self._ho_max_wait and now >= self._half_open_at + self._ho_max_wait:
            fired = self._open(now)
            s = _OPEN
        if self._ignored and outcome.evidence in self._ignored:
            self._ignored_n += 1
            if s is _HALF_OPEN and self._ho_granted > 0:
                self._ho_granted -= 1
            return fired
        failed = kind is not _SUCCESS and kind in self._fail_kinds
        slow = duration >= self._slow_dur
        if failed:
            if slow:
                self._slow_failed += 1
            else:
                self._failed += 1
        elif slow:
            self._slow_successful += 1
        else:
            self._successful += 1
        if s is _CLOSED:
            w = self._window
            w.add(now, (FAILED if failed else 0) | (SLOW if slow else 0))
            if failed:
                self._consec += 1
                if self._consec_limit and self._consec >= self._consec_limit:
                    return self._open(now, fired)
            else:
                self._consec = 0
            calls = w.calls
            if calls >= self._min_calls and (w.failures / calls >= self._fr or w.slow / calls >= self._sr):
                return self._open(now, fired)
        elif s is _HALF_OPEN:
            self._ho_calls += 1
            if failed:
                self._ho_failures += 1
            if slow:
                self._ho_slow += 1
            calls = self._ho_calls
            if calls >= self._ho_permitted:
                if self._ho_failures / calls >= self._fr or self._ho_slow / calls >= self._sr:
                    return self._open(now, fired)
                return self._to(_CLOSED, now, fired)
        return fired

    def _release_locked(self) -> None:
        if self._state is _DISABLED:
            return
        self._released += 1
        if self._state is _HALF_OPEN and self._ho_granted > 0:
            self._ho_granted -= 1

    def _open(self, now: float, fired: list[Transition] | None = None) -> list[Transition]:
        """Enter OPEN: the k-th open in a row waits wait_in_open · multiplier^(k-1), capped, jittered."""
        c = self.config
        self._opens += 1
        if self._opens == 1:
            base = c.wait_in_open
        else:
            base = self._open_base * c.wait_multiplier
            if c.wait_max is not None and base > c.wait_max:
                base = c.wait_max
        self._open_base = base
        wait = base
        if c.wait_jitter and self._rng is not None:
            wait = base * (1.0 + c.wait_jitter * (2.0 * self._rng.random() - 1.0))
        self._opened_at = now
        self._open_until = now + wait
        return self._to(_OPEN, now, fired)

    def _to(self, new: BreakerState, now: float, fired: list[Transition] | None = None) -> list[Transition]:
        old = self._state
        self._state = new
        self._consec = 0
        if new is _CLOSED:
            self._window.clear()
            self._opens = 0
            self._open_base = self.config.wait_in_open
        elif new is _HALF_OPEN:
            self._half_open_at = now
            self._ho_granted = self._ho_calls = self._ho_failures = self._ho_slow = 0
        key = (old, new)
        self._transitions[key] = self._transitions.get(key, 0) + 1
        if fired is None:
            fired = []
        fired.append((old, new, now))
        return fired

    def _manual(self, new: BreakerState, now: float) -> None:
        with self._lock:
            if self._state is new:
                if new is _CLOSED:
                    self._window.clear()
                    self._consec = self._opens = 0
                return
            fired = self._to(new, now)
        self._fire(fired)

    def _fire(self, fired: list[Transition]) -> None:
        name = self.name
        for old, new, at in fired:
            for sl in self._state_listeners:
                sl(name, old, new, at)
            if self._listeners:
                event = TraceEvent(at, EventKind.STATE, 0, f"{old.value}->{new.value}")
                for listener in self._listeners:
                    listener(name, event)

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._state.value})"
