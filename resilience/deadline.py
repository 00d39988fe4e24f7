"""Deadlines: one absolute end time shared by every call under a request."""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

__all__ = ["Deadline", "current_deadline", "deadline_scope"]


class Deadline:
    """An absolute point on a driver's monotonic clock.

    Children never outlive their parent: ``child`` takes the earlier of the
    parent's end and its own.
    """

    __slots__ = ("expires_at", "explicit", "timeout")

    def __init__(self, expires_at: float, *, timeout: float | None = None, explicit: bool = True) -> None:
        if math.isnan(expires_at):
            raise ValueError(f"Deadline.expires_at={expires_at!r}: must not be NaN")
        self.expires_at = expires_at
        self.timeout = timeout
        self.explicit = explicit

    @classmethod
    def after(cls, now: float, timeout: float, *, explicit: bool = True) -> Deadline:
        """The deadline ``timeout`` seconds from ``now``."""
        if not (timeout >= 0):
            raise ValueError(f"Deadline.timeout={timeout!r}: must be >= 0")
        return cls(now + timeout, timeout=timeout, explicit=explicit)

    @classmethod
    def never(cls) -> Deadline:
        return cls(math.inf, explicit=False)

    def remaining(self, now: float) -> float:
        """Seconds left, never negative."""
        left = self.expires_at - now
        return left if left > 0.0 else 0.0

    def expired(self, now: float) -> bool:
        """True once ``now`` has reached the end (the end itself counts as expired)."""
        return now >= self.expires_at

    def child(self, now: float, timeout: float | None = None, *, reserve: float = 0.0) -> Deadline:
        """A deadline for a sub-call: at most ``timeout`` from now, ``reserve`` before ours."""
        if reserve < 0:
            raise ValueError(f"Deadline.reserve={reserve!r}: must be >= 0")
        end = self.expires_at - reserve
        explicit = self.explicit
        if timeout is not None:
            own = now + timeout
            if own < end:
                end, explicit = own, True
        return Deadline(end, timeout=timeout, explicit=explicit)

    def __repr__(self) -> str:
        return f"Deadline(expires_at={self.expires_at!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deadline) and other.expires_at == self.expires_at

    def __hash__(self) -> int:
        return hash(self.expires_at)


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "resilience_deadline", default=None
)


def current_deadline() -> Deadline | None:
    """The deadline of the request this code runs under, if any."""
    return _current.get()


@contextlib.contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` (or the enclosing one, if earlier) current inside the block."""
    outer = _current.get()
    effective = deadline if outer is None or deadline.expires_at <= outer.expires_at else outer
    token = _current.set(effective)
    try:
        yield effective
    finally:
        _current.reset(token)
