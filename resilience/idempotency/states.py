"""The idempotency-key state machine: pending → succeeded | failed."""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["TRANSITIONS", "IllegalTransition", "KeyState", "can_transition", "check_transition"]


class KeyState(enum.Enum):
    """Where the request behind a key stands."""

    PENDING = "pending"  # executing now; duplicates get "in progress"
    SUCCEEDED = "succeeded"  # finished; duplicates replay the stored result
    FAILED = "failed"  # finished with an error; duplicates replay the error

    @property
    def terminal(self) -> bool:
        return self is not KeyState.PENDING


TRANSITIONS: Mapping[KeyState, frozenset[KeyState]] = {
    KeyState.PENDING: frozenset({KeyState.SUCCEEDED, KeyState.FAILED}),
    KeyState.SUCCEEDED: frozenset(),
    KeyState.FAILED: frozenset(),
}
"""The legal moves of the key state machine: pending → succeeded | failed."""


class IllegalTransition(ValueError):
    """A state change the machine does not allow (e.g. succeeded → pending)."""

    def __init__(self, current: KeyState, target: KeyState) -> None:
        super().__init__(f"illegal idempotency-key transition {current.value} -> {target.value}")
        self.current = current
        self.target = target


def can_transition(current: KeyState, target: KeyState) -> bool:
    """True if ``current → target`` is an edge of the state machine."""
    return target in TRANSITIONS[current]


def check_transition(current: KeyState, target: KeyState) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is allowed."""
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
