"""The breaker's state machine: the current state, its generation and the due transitions.

Every move is checked against ``ALLOWED_TRANSITIONS`` and starts a new
generation, so a permit of an earlier state can be told from a current one.

* **Open → half-open at ``now >= open_until``** (the end of the open wait).
  resilience4j moves when the clock is strictly after the wait; ``>=`` lets a
  simulated request at exactly the boundary probe, deterministically.
* **Half-open max wait:** ``max_wait_in_half_open`` > 0 ends a round whose
  probes take too long, moving to ``state_after_max_wait_in_half_open``
  (OPEN by default, or CLOSED).
* **Due transitions are stamped at their due time** (the end of the wait),
  never at the time someone looked: ``settle(now)`` applies every transition
  due by ``now`` in order, and ``shadow().settle(now)`` shows them without
  changing anything. Whether a breaker is ticked often, rarely or only by its
  calls, it goes through the same transitions at the same times.
"""

from __future__ import annotations

from .config import BreakerConfig
from .open_wait import OpenWaits
from .state import ALLOWED_TRANSITIONS, BreakerState

__all__ = ["StateMachine", "Transition"]

Transition = tuple[BreakerState, BreakerState, float]
"""``(from_state, to_state, at)``."""

_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_INF = float("inf")


class StateMachine:
    """State, generation, open and half-open times, and counts of transitions by (from, to)."""

    __slots__ = (
        "after_max_wait", "generation", "half_open_at", "max_wait", "name", "open_until", "opened_at",
        "rounds", "state", "transitions", "waits",
    )  # fmt: skip

    def __init__(self, config: BreakerConfig, waits: OpenWaits, name: str) -> None:
        self.name = name
        self.waits = waits
        self.max_wait = config.max_wait_in_half_open
        self.after_max_wait = config.state_after_max_wait_in_half_open
        self.state = _CLOSED
        self.generation = 0
        self.opened_at = self.open_until = self.half_open_at = -_INF
        self.rounds = 0  # half-open rounds started
        self.transitions: dict[tuple[BreakerState, BreakerState], int] = {}

    def move(self, new: BreakerState, at: float, fired: list[Transition]) -> None:
        """Go to ``new`` at ``at`` (a new generation); refuses a move not in the transition table."""
        old = self.state
        if (old, new) not in ALLOWED_TRANSITIONS:
            raise ValueError(
                f"CircuitBreaker {self.name!r}: {old.value} -> {new.value} is not an allowed transition"
            )
        self.state = new
        self.generation += 1
        if new is _CLOSED:
            self.waits.reset()
        elif new is _HALF_OPEN:
            self.half_open_at = at
            self.rounds += 1
        key = (old, new)
        self.transitions[key] = self.transitions.get(key, 0) + 1
        fired.append((old, new, at))

    def open(self, at: float, fired: list[Transition], until: float | None = None) -> None:
        """Enter OPEN at ``at`` for the next escalating wait, or until ``until``."""
        wait = self.waits.next()
        self.opened_at = at
        self.open_until = at + wait if until is None else until
        self.move(_OPEN, at, fired)

    def new_generation(self) -> None:
        """Outdate every permit out without moving (a reset of a closed breaker)."""
        self.generation += 1

    def due_at(self) -> float:
        """When the next automatic transition is due (inf: none)."""
        s = self.state
        if s is _OPEN:
            return self.open_until
        if s is _HALF_OPEN and self.max_wait:
            return self.half_open_at + self.max_wait
        return _INF

    def settle(self, now: float, fired: list[Transition]) -> None:
        """Apply every transition due by ``now``, each stamped at its due time."""
        while True:
            at = self.due_at()
            if now < at:
                return
            if self.state is _OPEN:
                self.move(_HALF_OPEN, at, fired)
            elif self.after_max_wait is _OPEN:
                self.open(at, fired)
            else:
                self.move(_CLOSED, at, fired)

    def view(self, now: float) -> tuple[StateMachine, bool]:
        """This machine as of ``now`` (a settled shadow if a transition is due), and whether the
        current half-open round or window still describe it (False: a new round began, or it closed)."""
        if now < self.due_at():
            return self, True
        shadow = self.shadow()
        shadow.settle(now, [])
        return shadow, shadow.rounds == self.rounds and shadow.state is not _CLOSED

    def shadow(self) -> StateMachine:
        """A copy to look ahead with; settling it leaves this machine and its waits unchanged."""
        s = StateMachine.__new__(StateMachine)
        s.name, s.max_wait, s.after_max_wait = self.name, self.max_wait, self.after_max_wait
        s.state, s.generation, s.rounds = self.state, self.generation, self.rounds
        s.opened_at, s.open_until, s.half_open_at = self.opened_at, self.open_until, self.half_open_at
        s.waits = self.waits.shadow()
        s.transitions = {}
        return s
