"""Mergeable log-linear latency histograms: 64 sub-buckets per power of two (< 0.8% relative width)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

__all__ = ["LogHistogram", "bucket_of"]

SUB: Final = 64
_ZERO: Final = -(10**6)
_frexp: Final = math.frexp


def bucket_of(x: float) -> int:
    """The bucket index of a non-negative value (all values <= 0 share one bucket)."""
    if x <= 0.0:
        return _ZERO
    m, e = _frexp(x)
    return e * SUB + int((m - 0.5) * (2 * SUB))


def _bounds(i: int) -> tuple[float, float]:
    if i == _ZERO:
        return 0.0, 0.0
    e, s = divmod(i, SUB)
    return math.ldexp(0.5 + s / (2 * SUB), e), math.ldexp(0.5 + (s + 1) / (2 * SUB), e)


class LogHistogram:
    """Counts per bucket plus exact count, sum, min and max; ``merge`` adds another."""

    __slots__ = ("counts", "hi", "lo", "n", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.total = 0.0
        self.lo = math.inf
        self.hi = -math.inf

    def add(self, x: float) -> None:
        if x <= 0.0:
            b = _ZERO
        else:
            m, e = _frexp(x)
            b = e * SUB + int((m - 0.5) * (2 * SUB))
        c = self.counts
        c[b] = c.get(b, 0) + 1
        self.n += 1
        self.total += x
        if x < self.lo:
            self.lo = x
        if x > self.hi:
            self.hi = x

    def merge(self, other: LogHistogram) -> None:
        c = self.counts
        for b, k in other.counts.items():
            c[b] = c.get(b, 0) + k
        self.n += other.n
        self.total += other.total
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)

    @classmethod
    def merged(cls, parts: Iterable[LogHistogram]) -> LogHistogram:
        out = cls()
        for p in parts:
            out.merge(p)
        return out

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def quantile(self, q: float) -> float:
        """The q-quantile (bucket midpoint, clamped to the observed min and max); NaN when empty."""
        if self.n == 0:
            return math.nan
        rank = q * self.n
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank and seen > 0:
                low, high = _bounds(b)
                return min(max((low + high) / 2.0, self.lo), self.hi)
        return self.hi

    def quantiles(self, qs: Iterable[float]) -> list[float]:
        """``[quantile(q) for q in qs]``; ascending ``qs`` take one pass over the sorted buckets."""
        qs = list(qs)
        if self.n == 0 or qs != sorted(qs):
            return [self.quantile(q) for q in qs]
        out = [self.hi] * len(qs)
        ranks = [q * self.n for q in qs]
        counts = self.counts
        j = 0
        seen = 0
        for b in sorted(counts):
            seen += counts[b]
            while j < len(ranks) and seen >= ranks[j] and seen > 0:
                low, high = _bounds(b)
                out[j] = min(max((low + high) / 2.0, self.lo), self.hi)
                j += 1
            if j == len(ranks):
                break
        return out
