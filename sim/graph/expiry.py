"""Attempt timers of one caller without one SimPy event each: due times kept in order, one timer armed
for the earliest, answered attempts dropped when their time comes (they cost no event).

``add`` returns the timer's entry; an item that ends before its due time clears it (``clear``), so
the queue no longer holds the item: a finished attempt (its request, execution and deadline) is freed
when it ends, not when its timeout would have fired."""

from __future__ import annotations

import heapq
import math
from collections import deque
from itertools import count
from typing import Any, Final

import simpy

from sim.model.clock import later

__all__ = ["Expiry", "clear"]

_heappop: Final = heapq.heappop  # Final: a C static when compiled
_heappush: Final = heapq.heappush
_next: Final = next


def clear(entry: list[Any] | None) -> None:
    """The item of ``entry`` (from ``Expiry.add``) ended: its timer is void and holds it no longer."""
    if entry is not None:
        entry[1] = None


class Expiry:
    """Calls ``item.timed_out(None)`` at each item's due time unless its entry was cleared by then.

    Due times arrive almost in order (same timeout, sent in order): those go to a deque; the few
    that arrive earlier than the last go to a heap. One SimPy timer is armed for the earliest.
    """

    __slots__ = ("_armed", "_late", "_q", "_seq", "env")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._q: deque[list[Any]] = deque()  # [due, item or None], due times in order
        self._late: list[tuple[float, int, list[Any]]] = []
        self._seq = count()
        self._armed = math.inf  # the earliest time a timer of ours is armed for

    def add(self, due: float, item: Any, now: float) -> list[Any]:
        """Time ``item`` out at ``due``; its entry, for ``clear`` when the item ends first."""
        entry = [due, item]
        q = self._q
        if not q or due >= q[-1][0]:
            q.append(entry)
        else:
            _heappush(self._late, (due, _next(self._seq), entry))
        if due < self._armed:
            self._armed = due
            later(self.env, due - now, self._fire)
        return entry

    def _fire(self, _ev: object) -> None:
        now = self.env.now
        if now >= self._armed:
            self._armed = math.inf
        q, late = self._q, self._late
        # items answered already are dropped whatever their due time: the next timer is armed
        # for the earliest item still waiting, not for every item sent
        while q:
            entry = q[0]
            item = entry[1]
            if item is None:
                q.popleft()
            elif entry[0] <= now:
                q.popleft()
                entry[1] = None
                item.timed_out(None)
            else:
                break
        while late:
            entry = late[0][2]
            item = entry[1]
            if item is None:
                _heappop(late)
            elif entry[0] <= now:
                _heappop(late)
                entry[1] = None
                item.timed_out(None)
            else:
                break
        nxt = min(q[0][0] if q else math.inf, late[0][0] if late else math.inf)
        if nxt < self._armed:
            self._armed = nxt
            later(self.env, nxt - now, self._fire)

    def __len__(self) -> int:
        """Entries held (answered ones included until their due time)."""
        return len(self._q) + len(self._late)
