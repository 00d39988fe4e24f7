"""A time-bucketed sliding window of integer counters with running totals."""

from __future__ import annotations

import math

__all__ = ["BucketedWindow"]


class BucketedWindow:
    """``counters`` integer counts over the last ``buckets`` buckets of ``width`` seconds.

    The window at time ``t`` is the bucket holding ``t`` plus the ``buckets - 1``
    before it, so an event leaves the window between ``(buckets - 1) * width``
    and ``buckets * width`` seconds after it happened. Totals are kept running:
    advancing subtracts the buckets that expire, so each call is O(1) amortised
    (a jump longer than the window clears it at once). A time earlier than the
    newest seen is counted in the newest bucket (time never runs backwards), and
    ``latest`` is that newest time, so ``latest`` always falls in the bucket an
    ``add`` counts in: a caller records it to ``remove`` the count later.
    Not locked: the owner holds its own lock.
    """

    __slots__ = ("_head", "_n", "_slots", "_width", "latest", "totals")

    def __init__(self, span: float, buckets: int, counters: int) -> None:
        self._width = span / buckets
        self._n = buckets
        self._slots = [[0] * counters for _ in range(buckets)]
        self.totals = [0] * counters
        self._head: int | None = None
        self.latest = -math.inf

    def advance(self, now: float) -> None:
        """Move the window so that it ends at ``now``."""
        idx = math.floor(now / self._width)
        head = self._head
        if head is None:
            self._head = idx
            self.latest = now
            return
        gap = idx - head
        if gap <= 0:
            if now > self.latest:
                self.latest = now  # same bucket: floor(latest / width) stays head
            return
        n = self._n
        totals = self.totals
        if gap >= n:
            for slot in self._slots:
                for c in range(len(slot)):
                    slot[c] = 0
            for c in range(len(totals)):
                totals[c] = 0
        else:
            for i in range(head + 1, idx + 1):
                slot = self._slots[i % n]
                for c, v in enumerate(slot):
                    if v:
                        totals[c] -= v
                        slot[c] = 0
        self._head = idx
        self.latest = now

    def add(self, counter: int, amount: int = 1) -> None:
        """Count ``amount`` in the current bucket (call ``advance`` first)."""
        head = self._head if self._head is not None else 0
        self._slots[head % self._n][counter] += amount
        self.totals[counter] += amount

    def remove(self, counter: int, at: float, amount: int = 1) -> bool:
        """Take back ``amount`` counted at ``at`` (a past ``latest``) if its bucket is still in the window.

        False, and nothing changes, when that bucket has expired (or lies ahead
        of the window) or holds less than ``amount``. Call ``advance`` first.
        """
        head = self._head
        if head is None:
            return False
        idx = math.floor(at / self._width)
        if not head - self._n < idx <= head:
            return False
        slot = self._slots[idx % self._n]
        if slot[counter] < amount:
            return False
        slot[counter] -= amount
        self.totals[counter] -= amount
        return True

    def bucket_sums(self) -> list[int]:
        """Each counter summed over the buckets (equals ``totals``; for checks)."""
        return [sum(slot[c] for slot in self._slots) for c in range(len(self.totals))]
