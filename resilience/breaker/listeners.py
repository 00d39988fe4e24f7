"""Who hears about a breaker's transitions: state listeners and trace-event listeners.

Listeners are called after the breaker's lock is released, through
``resilience.hooks.notify``: a listener that raises is logged once per
(listener, exception type) and counted under the breaker's name, and the
decision it observed stands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..events import EventKind, Listener, TraceEvent
from ..hooks import notify
from .machine import Transition
from .state import BreakerState

__all__ = ["BreakerListeners", "StateListener"]

StateListener = Callable[[str, BreakerState, BreakerState, float], None]
"""Called as ``(name, from_state, to_state, at)`` after each transition."""


class BreakerListeners:
    """State listeners get ``(name, from_state, to_state, at)``; event listeners get ``(name,
    TraceEvent(at, EventKind.STATE, 0, "from->to"))``."""

    __slots__ = ("events", "states")

    def __init__(self, events: Iterable[Listener], states: Iterable[StateListener]) -> None:
        self.events: tuple[Listener, ...] = tuple(events)
        self.states: tuple[StateListener, ...] = tuple(states)

    def fire(self, name: str, fired: list[Transition]) -> None:
        """Report ``fired`` transitions in order (call without the breaker's lock)."""
        for old, new, at in fired:
            if self.states:
                notify(self.states, name, old, new, at)
            if self.events:
                notify(self.events, name, TraceEvent(at, EventKind.STATE, 0, f"{old.value}->{new.value}"))
