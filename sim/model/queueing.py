"""CoDel's dequeue-time control law (RFC 8289), independent of what is queued."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["CoDelState"]

T = TypeVar("T")

#: ``pop()`` gives the next item, the time it spent queued, and whether the queue is empty behind it.
Popped = tuple[T, float, bool]


class CoDelState(Generic[T]):
    """The state of one CoDel queue: ``dequeue`` pops, drops what the control law says, returns the rest.

    Follows RFC 8289's pseudocode: ``ok_to_drop`` once the sojourn time has
    stayed at or above ``target`` for ``interval`` (and the queue is not empty
    behind the item); in the dropping state, drops are spaced
    ``interval / sqrt(count)`` apart; a new dropping state soon after the last
    one resumes near its drop count. "Queue holds at most one packet" reads
    "nothing queued behind the item".
    """

    __slots__ = ("count", "drop_next", "dropping", "first_above", "interval", "lastcount", "target")

    def __init__(self, target: float, interval: float) -> None:
        self.target = target
        self.interval = interval
        self.first_above: float | None = None
        self.drop_next = 0.0
        self.count = 0
        self.lastcount = 0
        self.dropping = False

    def _law(self, t: float) -> float:
        return t + self.interval / math.sqrt(self.count)

    def _ok_to_drop(self, now: float, sojourn: float, empty_behind: bool) -> bool:
        if sojourn < self.target or empty_behind:
            self.first_above = None
            return False
        if self.first_above is None:
            self.first_above = now + self.interval
            return False
        return now >= self.first_above

    def dequeue(self, now: float, pop: Callable[[], Popped[T] | None], drop: Callable[[T], None]) -> T | None:
        """The next item to serve at ``now`` (None when the queue ran dry); items dropped on the way
        are handed to ``drop``."""
        got = pop()
        if got is None:
            self.first_above = None
            self.dropping = False
            return None
        item, sojourn, empty = got
        ok = self._ok_to_drop(now, sojourn, empty)
        if self.dropping:
            if not ok:
                self.dropping = False
            while self.dropping and now >= self.drop_next:
                drop(item)
                self.count += 1
                got = pop()
                if got is None:
                    self.first_above = None
                    self.dropping = False
                    return None
                item, sojourn, empty = got
                if self._ok_to_drop(now, sojourn, empty):
                    self.drop_next = self._law(self.drop_next)
                else:
                    self.dropping = False
            return item
        if not ok:
            return item
        drop(item)
        got = pop()
        if got is not None:
            self._ok_to_drop(now, got[1], got[2])
        self.dropping = True
        delta = self.count - self.lastcount
        self.count = 1
        if delta > 1 and now - self.drop_next < 16 * self.interval:
            self.count = delta
        self.drop_next = self._law(now)
        self.lastcount = self.count
        if got is None:
            self.first_above = None
            return None
        return got[0]
