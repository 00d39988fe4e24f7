"""The circuit breaker: a thread-safe facade over a window, a trip rule and a state machine.

Every method takes the time ``now``. The parts keep their own rules: what is
slow, failed or ignored and when the breaker trips in ``trip``; due
transitions in ``machine``; open waits in ``open_wait``; windows in
``window``. What the facade adds:

* **Permits and generations.** ``try_acquire`` hands out a ``Permit`` carrying
  the breaker's generation (a closed or disabled breaker shares one permit per
  generation; probes get their own). Every transition, manual ones included,
  and every ``reset`` starts a new generation. ``record`` or ``release`` takes
  the permit back. A permit from an earlier generation is *late*: its outcome
  is counted by kind and as ``late`` but does not enter the window, decide a
  half-open round or free a probe permission (gobreaker's rule; resilience4j
  and Polly let such outcomes count).
* **Half-open** grants ``permitted_calls_in_half_open`` probe permits and
  rejects the rest; once every probe answered, the round decides.
* **What is recorded:** CANCELLED is never an outcome (``record`` treats it as
  ``release``, which frees the probe permission it held); ignored evidence is
  counted as ``ignored`` and frees its probe permission too.
* **FORCED_OPEN** rejects everything; **DISABLED** permits everything and
  records nothing (counters included) until another manual transition.
* **Closing resets the window.** It is kept while open, so the metrics show
  the rates that tripped the breaker; after a half-open round re-opened it,
  they show that round's probes.
* **Observers see the state as of ``now``.** ``state_at``, ``metrics(now)``,
  ``counts(now)`` and ``seconds_until_probe`` include the transitions due by
  ``now`` without applying them; ``tick(now)`` applies them (so does any call)
  and reports each stamped at its due time.

Transitions are reported after the lock is released (see ``listeners``): a
listener that raises is logged once and counted, and changes no decision.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..events import Listener
from ..outcome import Outcome, OutcomeKind
from ..protocols import Permit
from ..rng import RandomSource
from .config import BreakerConfig, WindowType
from .listeners import BreakerListeners, StateListener
from .machine import StateMachine, Transition
from .open_wait import BreakDuration, OpenWaits
from .snapshot import BreakerCounts, BreakerMetrics, snapshot
from .state import BreakerState
from .trip import IGNORED, ProbeRound, TripRule
from .window import CountWindow, TimeWindow, Window

__all__ = ["CircuitBreaker", "StateListener"]  # StateListener: re-exported from ``listeners``

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN
_DISABLED = BreakerState.DISABLED
_CANCELLED = OutcomeKind.CANCELLED
_SUCCESS = OutcomeKind.SUCCESS
_IGNORED_KIND = 4  # index of ``ignored`` in the calls by kind
_NOT_PERMITTED = 5
_INF = float("inf")


class CircuitBreaker:
    """A circuit breaker (implements ``BreakerLike``); ``break_duration(k)`` optionally sets the
    k-th open wait in a row (see ``open_wait``)."""

    __slots__ = (
        "_gen", "_kinds", "_late", "_listeners", "_lock", "_machine", "_permit", "_released", "_round",
        "_rule", "_state", "_window", "config", "last_used", "name",
    )  # fmt: skip

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        name: str = "default",
        rng: RandomSource | None = None,
        listeners: Iterable[Listener] = (),
        state_listeners: Iterable[StateListener] = (),
        break_duration: BreakDuration | None = None,
    ) -> None:
        self.config = c = config if config is not None else BreakerConfig()
        if c.wait_jitter > 0 and rng is None:
            raise ValueError("CircuitBreaker: wait_jitter > 0 needs an rng (e.g. random.Random(seed))")
        if break_duration is not None and not callable(break_duration):
            raise TypeError(f"CircuitBreaker: break_duration must be callable, got {break_duration!r}")
        self.name = name
        self._lock: Any = threading.Lock()
        self._listeners = BreakerListeners(listeners, state_listeners)
        self._window: Window = (
            CountWindow(int(c.window_size))
            if c.window_type is WindowType.COUNT
            else TimeWindow(c.buckets, c.bucket_seconds)
        )
        self._rule = TripRule(c)
        self._machine = StateMachine(c, OpenWaits(c, rng, break_duration, name), name)
        self._round: ProbeRound | None = None  # the latest half-open round, until the breaker closes
        self._kinds = [0, 0, 0, 0, 0, 0]  # by outcome code (see trip), then ignored, not permitted
        self._late = self._released = 0
        self._state = _CLOSED  # mirrors the machine, for the fast path
        self._gen = 0
        self._permit = Permit(0)  # the shared permit of a closed or disabled generation
        self.last_used = -_INF

    # -- the hot path -------------------------------------------------------------
    def try_acquire(self, now: float) -> Permit | None:
        """A permit for one call now, or None (counted as not permitted)."""
        lock = self._lock  # acquire/release: cheaper than ``with`` on this path
        lock.acquire()
        try:
            if now > self.last_used:  # never backwards: the registry stamps it too
                self.last_used = now
            if self._state is _CLOSED:
                return self._permit
            fired: list[Transition] = []
            permit = self._acquire_slow(now, fired)
        finally:
            lock.release()
        if fired:
            self._fire(fired)
        return permit

    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None:
        """Settle ``permit`` with its call's outcome and duration."""
        fired: list[Transition] | None = None
        lock = self._lock
        lock.acquire()
        try:
            rule = self._rule
            if (  # the fast path: a fast success of a current permit in the closed state
                self._state is _CLOSED
                and outcome.kind is _SUCCESS
                and permit.generation == self._gen
                and duration < rule.slow_duration
                and not (rule.ignored and outcome.evidence in rule.ignored)
            ):
                self._kinds[0] += 1
                rule.run = 0
                w = self._window
                w.add(now, 0)
                if w.calls < rule.min_calls or not rule.trips(w):
                    return
                fired = []
                self._machine.open(now, fired)
                self._entered(fired, 0)
            else:
                fired = self._record_slow(permit, now, duration, outcome)
        finally:
            lock.release()
        if fired:
            self._fire(fired)

    def release(self, permit: Permit, now: float) -> None:
        """Settle ``permit`` whose call produced no outcome (cancelled, or its result unknown)."""
        fired: list[Transition] = []
        with self._lock:
            if self._state is _DISABLED:
                return
            self._settle(now, fired)
            self._release_locked(permit)
        if fired:
            self._fire(fired)

    def tick(self, now: float) -> list[Transition]:
        """Apply the transitions due by ``now`` and notify listeners; returns them."""
        fired: list[Transition] = []
        with self._lock:
            self._settle(now, fired)
        if fired:
            self._fire(fired)
        return fired

    # -- queries --------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        """The state as last settled (a due transition shows after ``tick`` or the next call)."""
        return self._state

    def state_at(self, now: float) -> BreakerState:
        """The state a call at ``now`` would meet; never changes the breaker."""
        with self._lock:
            return self._machine.view(now)[0].state

    @property
    def open_until(self) -> float:
        """When the current open wait ends (meaningful in OPEN)."""
        return self._machine.open_until

    @property
    def generation(self) -> int:
        """The current generation (permits of an earlier one are late)."""
        return self._gen

    def seconds_until_probe(self, now: float) -> float | None:
        """Seconds until a call may be permitted: 0 if one would be now; None if not on its own
        (forced open, open until a manual transition, or every probe permission out)."""
        with self._lock:
            m, current = self._machine.view(now)
            s = m.state
            if s is _CLOSED or s is _DISABLED:
                return 0.0
            if s is _OPEN:
                return None if m.open_until == _INF else m.open_until - now
            if s is _HALF_OPEN:
                granted = self._round.granted if current and self._round is not None else 0
                return 0.0 if granted < self._rule.probes else None
            return None

    def window_check(self) -> bool:
        """Whether the window's running totals equal the sum over its slots or buckets."""
        with self._lock:
            return self._window.check()

    def metrics(self, now: float | None = None) -> BreakerMetrics:
        """A snapshot; with ``now``, as of ``now`` (due transitions and time-window expiry included)."""
        with self._lock:
            state, calls, failures, slow = self._rates(now)
            return snapshot(
                self.name, state, (calls, failures, slow), self._kinds, self._released, self._late,
                self._machine.transitions,
            )  # fmt: skip

    def counts(self, now: float) -> BreakerCounts:
        """The state, calls by kind, late outcomes and rates as ``metrics(now)`` reports them, cheaply."""
        with self._lock:
            state, calls, failures, slow = self._rates(now)
            k = self._kinds
            kinds = (k[0], k[1], k[2], k[3], k[4], k[5])
            late = self._late
        if not calls:
            return BreakerCounts(state, kinds, late, 0.0, 0.0)
        return BreakerCounts(state, kinds, late, failures / calls, slow / calls)

    # -- manual control -------------------------------------------------------------
    def force_open(self, now: float) -> None:
        """Reject every call until another manual transition."""
        self._manual(now, lambda fired: self._move(_FORCED_OPEN, now, fired))

    def disable(self, now: float) -> None:
        """Permit every call and record nothing until another manual transition."""
        self._manual(now, lambda fired: self._move(_DISABLED, now, fired))

    def reset(self, now: float) -> None:
        """Back to CLOSED with an empty window, no open streak and a new generation (counters are kept)."""
        self._manual(now, lambda fired: self._move(_CLOSED, now, fired))

    def transition_to_open(self, now: float, *, until: float | None = None) -> None:
        """Open now, for the next open wait or until ``until`` (``inf``: until a manual transition).

        Counts as an open in a row. Already open: only ``until``, if given, moves the end of the wait.
        """
        if until is not None and (math.isnan(until) or until < now):
            raise ValueError(f"CircuitBreaker.transition_to_open(until={until!r}): must be >= now ({now!r})")

        def go(fired: list[Transition]) -> None:
            m = self._machine
            if m.state is _OPEN:
                if until is not None:
                    m.open_until = until
                return
            n = len(fired)
            m.open(now, fired, until)
            self._entered(fired, n)

        self._manual(now, go)

    def transition_to_half_open(self, now: float) -> None:
        """Start a half-open round now (from open, forced open or disabled; a no-op if half-open)."""
        self._manual(now, lambda fired: self._move(_HALF_OPEN, now, fired))

    def add_listener(self, listener: Listener) -> None:
        """Subscribe to STATE trace events."""
        self._listeners.events = (*self._listeners.events, listener)

    def add_state_listener(self, listener: StateListener) -> None:
        """Subscribe to transitions as ``(name, from_state, to_state, at)``."""
        self._listeners.states = (*self._listeners.states, listener)

    # -- internals (called with the lock held) -----------------------------------------
    def _acquire_slow(self, now: float, fired: list[Transition]) -> Permit | None:
        self._settle(now, fired)
        s = self._state
        if s is _HALF_OPEN:
            r = self._round
            assert r is not None
            if r.granted < self._rule.probes:
                r.granted += 1
                return Permit(self._gen, True)
        elif s is _CLOSED or s is _DISABLED:
            return self._permit
        self._kinds[_NOT_PERMITTED] += 1
        return None

    def _record_slow(
        self, permit: Permit, now: float, duration: float, outcome: Outcome
    ) -> list[Transition] | None:
        if self._state is _DISABLED:
            return None
        fired: list[Transition] = []
        self._settle(now, fired)
        if outcome.kind is _CANCELLED:
            self._release_locked(permit)
            return fired
        code = self._rule.code(outcome, duration)
        self._kinds[_IGNORED_KIND if code == IGNORED else code] += 1
        if permit.generation != self._gen:
            self._late += 1
            return fired
        s = self._state
        r = self._round
        if code == IGNORED:
            if s is _HALF_OPEN and permit.probe and r is not None and r.granted > 0:
                r.granted -= 1
            return fired
        n = len(fired)
        if s is _CLOSED:
            w = self._window
            w.add(now, code)
            if self._rule.closed_outcome(w, code):
                self._machine.open(now, fired)
        elif s is _HALF_OPEN and permit.probe and r is not None:
            r.add(code)
            verdict = self._rule.judge(r)
            if verdict is _OPEN:
                self._machine.open(now, fired)
            elif verdict is _CLOSED:
                self._machine.move(_CLOSED, now, fired)
        self._entered(fired, n)
        return fired

    def _release_locked(self, permit: Permit) -> None:
        self._released += 1
        if permit.generation != self._gen:
            self._late += 1
            return
        r = self._round
        if self._state is _HALF_OPEN and permit.probe and r is not None and r.granted > 0:
            r.granted -= 1

    def _settle(self, now: float, fired: list[Transition]) -> None:
        m = self._machine
        if now >= m.due_at():
            n = len(fired)
            m.settle(now, fired)
            self._entered(fired, n)

    def _move(self, new: BreakerState, now: float, fired: list[Transition]) -> None:
        m = self._machine
        if m.state is not new:
            n = len(fired)
            m.move(new, now, fired)
            self._entered(fired, n)
        elif new is _CLOSED:  # reset of a closed breaker: forget the window and the permits out
            self._window.clear()
            self._rule.run = 0
            m.waits.reset()
            m.new_generation()
            self._entered(fired, len(fired))

    def _entered(self, fired: list[Transition], start: int) -> None:
        """After the machine moved (``fired[start:]``): reset what the new states start without."""
        for _, new, _ in fired[start:]:
            self._rule.run = 0
            if new is _CLOSED:
                self._window.clear()
                self._round = None
            elif new is _HALF_OPEN:
                self._round = ProbeRound()
        m = self._machine
        self._state = m.state
        if self._gen != m.generation:
            self._gen = m.generation
            self._permit = Permit(m.generation)

    def _rates(self, now: float | None) -> tuple[BreakerState, int, int, int]:
        """The state and the (calls, failures, slow) the rates are over, as of ``now`` (None: as stored)."""
        if now is None:
            state, current = self._state, True
        else:
            m, current = self._machine.view(now)
            state = m.state
        if not current:
            return state, 0, 0, 0
        r = self._round
        if r is not None:
            return state, r.calls, r.failures, r.slow
        w = self._window
        t = w.totals() if now is None else w.totals_at(now)
        return state, t.calls, t.failures, t.slow

    def _manual(self, now: float, action: Callable[[list[Transition]], None]) -> None:
        fired: list[Transition] = []
        error: ValueError | None = None
        with self._lock:
            self._settle(now, fired)
            try:
                action(fired)
            except ValueError as exc:  # a move the transition table refuses
                error = exc
        if fired:
            self._fire(fired)
        if error is not None:
            raise error

    def _fire(self, fired: list[Transition]) -> None:
        self._listeners.fire(self.name, fired)

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._state.value}, generation={self._gen})"
