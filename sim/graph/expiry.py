"""Attempt timers of one caller without one SimPy event each: due times kept in order, one timer armed
for the earliest, answered attempts dropped when their time comes (they cost no event)."""

from __future__ import annotations

import math
from collections import deque
from heapq import heappop, heappush
from itertools import count
from typing import Any

import simpy

from sim.graph.clock import later

__all__ = ["Expiry"]


class Expiry:
    """Calls ``item.timed_out(None)`` at each item's due time unless ``item.done`` by then.

    Due times arrive almost in order (same timeout, sent in order): those go to a deque; the few
    that arrive earlier than the last go to a heap. One SimPy timer is armed for the earliest.
    """

    __slots__ = ("_armed", "_late", "_q", "_seq", "env")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._q: deque[tuple[float, Any]] = deque()
        self._late: list[tuple[float, int, Any]] = []
        self._seq = count()
        self._armed = math.inf  # the earliest time a timer of ours is armed for

    def add(self, due: float, item: Any, now: float) -> None:
        q = self._q
        if not q or due >= q[-1][0]:
            q.append((due, item))
        else:
            heappush(self._late, (due, next(self._seq), item))
        if due < self._armed:
            self._armed = due
            later(self.env, due - now, self._fire)

    def _fire(self, _ev: object) -> None:
        now = self.env.now
        if now >= self._armed:
            self._armed = math.inf
        q, late = self._q, self._late
        # items answered already are dropped whatever their due time: the next timer is armed
        # for the earliest item still waiting, not for every item sent
        while q:
            due, item = q[0]
            if item.done:
                q.popleft()
            elif due <= now:
                q.popleft()
                item.timed_out(None)
            else:
                break
        while late:
            entry = late[0]
            if entry[2].done:
                heappop(late)
            elif entry[0] <= now:
                heappop(late)
                entry[2].timed_out(None)
            else:
                break
        nxt = min(q[0][0] if q else math.inf, late[0][0] if late else math.inf)
        if nxt < self._armed:
            self._armed = nxt
            later(self.env, nxt - now, self._fire)

    def __len__(self) -> int:
        """Entries held (answered ones included until their due time)."""
        return len(self._q) + len(self._late)
