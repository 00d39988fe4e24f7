"""Sliding windows of call outcomes with O(1) running totals.

An outcome is a code: bit 0 = failed, bit 1 = slow (so 0 success, 1 failure,
2 slow success, 3 slow failure). Both windows keep running totals of calls,
failures, slow calls and slow failures, updated in O(1) per call: the count
window subtracts the outcome its ring slot overwrites, the time window
subtracts each bucket as it expires. ``sums()`` recomputes the totals from the
slots or buckets (O(size)) so tests can check ``totals() == sums()``.

The time window holds ``n = window_size / bucket_seconds`` buckets: the current,
partly filled bucket and the ``n - 1`` before it, so it spans between
``(n - 1)·bucket_seconds`` and ``n·bucket_seconds`` of history (as in
resilience4j). A timestamp older than the newest bucket (threads racing with
slightly different clocks) is counted in the newest bucket.

Windows are not locked; the breaker that owns one serialises access.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["FAILED", "SLOW", "CountWindow", "TimeWindow", "Window", "WindowTotals"]

FAILED = 1
SLOW = 2
_EMPTY = 4  # a count-window slot not filled yet (codes are 0..3)
_EMPTY_SLOT = bytes((_EMPTY,))


class WindowTotals(NamedTuple):
    """Totals over a window. ``slow_failures`` are calls both slow and failed."""

    calls: int = 0
    failures: int = 0
    slow: int = 0
    slow_failures: int = 0

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        return self.slow / self.calls if self.calls else 0.0


class Window:
    """Common running totals; subclasses implement ``add`` and ``sums``."""

    __slots__ = ("calls", "failures", "slow", "slow_failures")

    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0
        self.slow = 0
        self.slow_failures = 0

    def add(self, now: float, code: int) -> None:
        """Record one outcome ``code`` (``FAILED | SLOW`` bits) at time ``now``."""
        raise NotImplementedError

    def expire(self, now: float) -> None:
        """Drop what is older than the window at ``now`` (a no-op for count windows)."""

    def clear(self) -> None:
        """Forget every outcome."""
        raise NotImplementedError

    def totals(self) -> WindowTotals:
        """The running totals (as last updated; call ``expire(now)`` first for a time window)."""
        return WindowTotals(self.calls, self.failures, self.slow, self.slow_failures)

    def totals_at(self, now: float) -> WindowTotals:
        """The totals as they would be at ``now``, without changing the window."""
        return self.totals()

    def sums(self) -> WindowTotals:
        """The totals recomputed from the slots or buckets, O(size)."""
        raise NotImplementedError

    def check(self) -> bool:
        """Whether the running totals equal the sum over slots or buckets."""
        return self.totals() == self.sums()


class CountWindow(Window):
    """The last ``size`` outcomes in a ring buffer, one byte a slot."""

    __slots__ = ("_head", "_slots", "size")

    def __init__(self, size: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"CountWindow size must be >= 1, got {size}")
        self.size = size
        self._slots = bytearray(_EMPTY_SLOT) * size
        self._head = 0

    def add(self, now: float, code: int) -> None:
        i = self._head
        slots = self._slots
        old = slots[i]
        if old != code:  # an outcome overwriting an equal one changes no total (the common case)
            if old == 4:  # _EMPTY, as a literal: this is the hot path
                self.calls += 1
            elif old:
                if old & FAILED:
                    self.failures -= 1
                if old & SLOW:
                    self.slow -= 1
                    if old & FAILED:
                        self.slow_failures -= 1
            slots[i] = code
            if code:
                if code & FAILED:
                    self.failures += 1
                if code & SLOW:
                    self.slow += 1
                    if code & FAILED:
                        self.slow_failures += 1
        i += 1
        self._head = 0 if i == self.size else i

    def clear(self) -> None:
        self._slots = bytearray(_EMPTY_SLOT) * self.size
        self._head = 0
        self.calls = self.failures = self.slow = self.slow_failures = 0

    def sums(self) -> WindowTotals:
        filled = [c for c in self._slots if c != _EMPTY]
        return WindowTotals(
            len(filled),
            sum(1 for c in filled if c & FAILED),
            sum(1 for c in filled if c & SLOW),
            sum(1 for c in filled if c == FAILED | SLOW),
        )


class TimeWindow(Window):
    """Outcomes of the last ``buckets`` buckets of ``bucket_seconds`` each."""

    __slots__ = (
        "_calls",
        "_epoch",
        "_failures",
        "_head",
        "_next_edge",
        "_slow",
        "_slow_failures",
        "bucket_seconds",
        "n",
    )

    def __init__(self, buckets: int, bucket_seconds: float) -> None:
        super().__init__()
        if buckets < 1 or not (math.isfinite(bucket_seconds) and bucket_seconds > 0):
            raise ValueError(
                f"TimeWindow needs buckets >= 1 and bucket_seconds > 0, got {buckets}, {bucket_seconds}"
            )
        self.n = buckets
        self.bucket_seconds = bucket_seconds
        self._epoch = -math.inf  # bucket number (now // bucket_seconds) of the newest bucket
        self._head = 0  # its index
        self._next_edge = -math.inf  # when the next bucket starts
        self._calls = [0] * buckets
        self._failures = [0] * buckets
        self._slow = [0] * buckets
        self._slow_failures = [0] * buckets

    def add(self, now: float, code: int) -> None:
        if now >= self._next_edge:
            self.expire(now)
        i = self._head
        self._calls[i] += 1
        self.calls += 1
        if code:
            if code & FAILED:
                self._failures[i] += 1
                self.failures += 1
            if code & SLOW:
                self._slow[i] += 1
                self.slow += 1
                if code & FAILED:
                    self._slow_failures[i] += 1
                    self.slow_failures += 1

    def expire(self, now: float) -> None:
        epoch = now // self.bucket_seconds
        gap = epoch - self._epoch
        if gap <= 0:
            self._next_edge = (self._epoch + 1) * self.bucket_seconds
            return
        n = self.n
        if gap >= n:
            self._reset_buckets()
            self._head = 0
        else:
            head = self._head
            for _ in range(int(gap)):
                head = head + 1 if head + 1 < n else 0
                self.calls -= self._calls[head]
                self.failures -= self._failures[head]
                self.slow -= self._slow[head]
                self.slow_failures -= self._slow_failures[head]
                self._calls[head] = self._failures[head] = self._slow[head] = self._slow_failures[head] = 0
            self._head = head
        self._epoch = epoch
        self._next_edge = (epoch + 1) * self.bucket_seconds

    def totals_at(self, now: float) -> WindowTotals:
        gap = now // self.bucket_seconds - self._epoch
        if gap <= 0:
            return self.totals()
        if gap >= self.n:
            return WindowTotals()
        calls, failures, slow, slow_failures = self.totals()
        head = self._head
        for _ in range(int(gap)):
            head = head + 1 if head + 1 < self.n else 0
            calls -= self._calls[head]
            failures -= self._failures[head]
            slow -= self._slow[head]
            slow_failures -= self._slow_failures[head]
        return WindowTotals(calls, failures, slow, slow_failures)

    def clear(self) -> None:
        self._reset_buckets()

    def _reset_buckets(self) -> None:
        n = self.n
        self._calls = [0] * n
        self._failures = [0] * n
        self._slow = [0] * n
        self._slow_failures = [0] * n
        self.calls = self.failures = self.slow = self.slow_failures = 0

    def sums(self) -> WindowTotals:
        return WindowTotals(sum(self._calls), sum(self._failures), sum(self._slow), sum(self._slow_failures))

    def bucket(self, now: float) -> WindowTotals:
        """The totals of the bucket that holds ``now`` (zero if it is not in the window)."""
        gap = self._epoch - now // self.bucket_seconds
        if gap < 0 or gap >= self.n:
            return WindowTotals()
        i = (self._head - int(gap)) % self.n
        return WindowTotals(self._calls[i], self._failures[i], self._slow[i], self._slow_failures[i])
