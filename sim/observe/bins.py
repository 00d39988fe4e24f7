"""The columns behind ``RunResult.bins``: cumulative counters cut per bin, made a DataFrame at the end.

At each bin boundary the recorder appends one tuple of cumulative counters per
entity (and, when the bin had successes, its latency histograms); per-bin
counts are the differences between consecutive cuts, taken with numpy when the
DataFrame is built. Memory grows with bins, not with requests.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.observe.breakers import STATES, BreakerTracker
from sim.observe.column import Column
from sim.observe.histogram import _ZERO as ZERO
from sim.observe.histogram import SUB, LogHistogram

if TYPE_CHECKING:
    import pandas as pd

    from sim.model.client import GroupRT
    from sim.model.service import ServiceRT

__all__ = ["GroupBins", "LatencyCuts", "ReasonCuts", "ServiceBins", "bins_frame"]

_MERGE_CHUNK = 1 << 15  # stored buckets merged at a time

QUANTILES = (0.5, 0.9, 0.99)
COUNTS = ("offered", "attempts", "successes", "goodput", "retries")
SERVICE_COUNTS = ("arrivals", "served", "queue_full", "refused", "errors")
FIRST = ["bin_start", "bin_end", "entity_kind", "entity"]


class GroupBins:
    """Per-bin cuts of one client group and, if it has breakers, of their tracker."""

    __slots__ = (
        "breaker", "budgets", "counts", "degraded", "degraded_keys", "edge", "failure_keys", "failures",
        "latency", "name", "tokens", "tracker",
    )  # fmt: skip

    def __init__(self, g: GroupRT, tracker: BreakerTracker | None) -> None:
        self.name = g.name
        self.edge = g.edge
        self.failure_keys = g.failures  # the group's counters by reason: their keys name the columns
        self.degraded_keys = g.degraded
        self.tracker = tracker
        self.budgets = g.pipelines.has_budget
        # Flat columns, not lists of tuples: nothing kept per bin is an object the garbage collector tracks.
        self.counts = Column("q")  # per bin: offered, attempts, successes, goodput, retries, in_flight
        self.failures = ReasonCuts()
        self.degraded = ReasonCuts()
        self.latency = LatencyCuts()
        self.tokens = Column("d")
        self.breaker = Column("d")  # per bin: openings so far, open area in the bin, instances per state


class ReasonCuts:
    """Cumulative counts by reason at each cut: how many reasons so far (``sizes``), then their counts in
    the order the reasons appeared (``values``)."""

    __slots__ = ("sizes", "values")

    def __init__(self) -> None:
        self.sizes = Column("q")
        self.values = Column("q")

    def table(self, reasons: int) -> np.ndarray:
        """Bins x reasons, zero before a reason first appeared."""
        sizes = np.frombuffer(self.sizes.array(), dtype=np.int64)
        out = np.zeros((len(sizes), reasons), dtype=np.int64)
        rows = np.repeat(np.arange(len(sizes)), sizes)
        cols = np.arange(len(rows)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        out[rows, cols] = np.frombuffer(self.values.array(), dtype=np.int64)
        return out


class LatencyCuts:
    """Non-empty per-bin latency histograms, flattened into arrays (nothing here for the GC to traverse)."""

    __slots__ = ("counts", "floats", "ints", "keys")

    def __init__(self) -> None:
        self.ints = Column("q")  # per histogram: bin (a bin may store two, in order), counted, n, buckets
        self.floats = Column("d")  # per histogram: total, lo, hi
        self.keys = Column("q")  # bucket keys and counts, histogram after histogram
        self.counts = Column("q")

    def add(self, k: int, h: LogHistogram, counted: int) -> None:
        """Store ``h`` (not empty) as part of bin ``k``; ``counted``: 1 for requests after warm-up."""
        c = h.counts
        self.ints.extend((k, counted, h.n, len(c)))
        self.floats.extend((h.total, h.lo, h.hi))
        self.keys.extend(c)
        self.counts.extend(c.values())

    def _columns(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.frombuffer(self.ints.array(), dtype=np.int64).reshape(-1, 4),
            np.frombuffer(self.floats.array()).reshape(-1, 3),
        )

    def _key_rows(self) -> np.ndarray:
        """For each stored bucket (``keys`` / ``counts``), the index of its histogram."""
        sizes = self._columns()[0][:, 3]
        return np.repeat(np.arange(len(sizes)), sizes)

    def merge_counted(self, into: LogHistogram) -> None:
        """Merge the counted histograms into ``into`` (as ``into.merge(h)`` for each, in bin order)."""
        ints, floats = self._columns()
        counted = ints[:, 1].astype(bool)
        if not counted.any():
            return
        flags = np.repeat(counted, ints[:, 3])  # one byte per stored bucket
        keys = np.frombuffer(self.keys.array(), dtype=np.int64)
        counts = np.frombuffer(self.counts.array(), dtype=np.int64)
        c = into.counts
        for start in range(0, len(keys), _MERGE_CHUNK):  # chunks keep the temporaries small
            end = start + _MERGE_CHUNK
            mask = flags[start:end]
            if not mask.any():
                continue
            uniq, where = np.unique(keys[start:end][mask], return_inverse=True)
            sums = np.zeros(len(uniq), dtype=np.int64)
            np.add.at(sums, where, counts[start:end][mask])
            for b, k in zip(uniq.tolist(), sums.tolist(), strict=True):
                c[b] = c.get(b, 0) + k
        total = into.total
        for x in floats[counted, 0].tolist():  # one by one: the same rounding as merge
            total += x
        into.total = total
        into.n += int(ints[counted, 2].sum())
        into.lo = min(into.lo, float(floats[counted, 1].min()))
        into.hi = max(into.hi, float(floats[counted, 2].max()))

    def stats(self, bins: int, qs: tuple[float, ...]) -> np.ndarray:
        """Per bin: the mean and the ``qs`` quantiles of the bin's histograms merged (as
        ``LogHistogram.merged(...).mean`` / ``.quantiles(qs)``); NaN for bins without any."""
        out = np.full((bins, 1 + len(qs)), np.nan)
        ints, floats = self._columns()
        if not len(ints):
            return out
        hb = ints[:, 0]
        first = np.flatnonzero(np.r_[True, hb[1:] != hb[:-1]])  # each bin's first histogram
        where = hb[first]
        n = np.add.reduceat(ints[:, 2], first)
        total = np.add.reduceat(floats[:, 0], first)  # at most two terms: exact as merge
        lo = np.minimum.reduceat(floats[:, 1], first)
        hi = np.maximum.reduceat(floats[:, 2], first)
        out[where, 0] = total / n
        # buckets sorted by (bin, key); duplicates of a key stay adjacent, which finds the same bucket
        group = np.cumsum(np.r_[0, (hb[1:] != hb[:-1]).astype(np.int64)])[self._key_rows()]
        keys = np.frombuffer(self.keys.array(), dtype=np.int64)
        order = np.lexsort((keys, group))
        keys, group = keys[order], group[order]
        cum = np.cumsum(np.frombuffer(self.counts.array(), dtype=np.int64)[order])
        before = np.r_[0, cum][np.searchsorted(group, np.arange(len(first)))]  # counts of earlier bins
        span = int(n.max()) + 1  # (group, count within the group) as one increasing integer
        flat = group * span + (cum - before[group])
        for j, q in enumerate(qs):
            rank = np.ceil(q * n).astype(np.int64)  # an integer count c satisfies c >= q*n iff c >= ceil(q*n)
            b = keys[np.searchsorted(flat, np.arange(len(first)) * span + rank)]
            e, sub = np.divmod(b, SUB)
            low = np.ldexp(0.5 + sub / (2 * SUB), e)
            high = np.ldexp(0.5 + (sub + 1) / (2 * SUB), e)
            mid = np.where(b == ZERO, 0.0, (low + high) / 2.0)
            out[where, 1 + j] = np.minimum(np.maximum(mid, lo), hi)
        return out


class ServiceBins:
    """Per-bin cuts of one service: cumulative counters and time integrals, levels at the cut."""

    __slots__ = ("cuts", "name", "workers")

    def __init__(self, s: ServiceRT) -> None:
        self.name = s.name
        self.workers = s.workers
        # per bin: arrivals, served, queue_full, refused, errors, area busy, area queue, queued, busy
        self.cuts = Column("d")


def _diff(cum: np.ndarray) -> np.ndarray:
    """Per-bin differences of cumulative columns (rows = bins)."""
    return np.diff(cum, axis=0, prepend=np.zeros((1, *cum.shape[1:]), dtype=cum.dtype))


class _Columns:
    """Columns filled block by block (one block per entity), NaN where an entity has no such column."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.data: dict[str, Any] = {}

    def put(self, name: str, at: slice, values: Any) -> None:
        col = self.data.get(name)
        if col is None:
            col = self.data[name] = np.full(self.rows, np.nan)
        col[at] = values


def _client(cols: _Columns, at: slice, b: GroupBins, n: int) -> None:
    counts = np.frombuffer(b.counts.array(), dtype=np.int64).reshape(n, len(COUNTS) + 1)
    diffs = _diff(counts[:, : len(COUNTS)])
    for i, name in enumerate(COUNTS):
        cols.put(name, at, diffs[:, i])
    by_reason = (("failures", b.failure_keys, b.failures), ("degraded", b.degraded_keys, b.degraded))
    for prefix, keys, cuts in by_reason:
        d = _diff(cuts.table(len(keys)))
        for i, r in enumerate(keys):
            cols.put(f"{prefix}_{r}", at, d[:, i])
        cols.put(prefix, at, d.sum(axis=1))
    cols.put("in_flight", at, counts[:, len(COUNTS)])
    lat = b.latency.stats(n, QUANTILES)
    for i, name in enumerate(("latency_mean", "latency_p50", "latency_p90", "latency_p99")):
        cols.put(name, at, lat[:, i])
    if b.budgets:
        cols.put("budget_tokens", at, np.frombuffer(b.tokens.array()))


def _breaker(cols: _Columns, at: slice, b: GroupBins, n: int, width: np.ndarray) -> None:
    tr = b.tracker
    assert tr is not None
    cuts = np.frombuffer(b.breaker.array()).reshape(n, 2 + len(STATES))
    cols.put("breaker_opened", at, _diff(cuts[:, 0]))
    cols.put("breaker_open_fraction", at, cuts[:, 1] / (width * tr.n))
    for i, s in enumerate(STATES):
        cols.put(f"breakers_{s}", at, cuts[:, 2 + i])


def _service(cols: _Columns, at: slice, b: ServiceBins, n: int, width: np.ndarray) -> None:
    cuts = np.frombuffer(b.cuts.array()).reshape(n, 9)
    ints = _diff(cuts[:, :5].astype(np.int64))
    for i, name in enumerate(SERVICE_COUNTS):
        cols.put(name, at, ints[:, i])
    areas = _diff(cuts[:, 5:7])
    busy, queue = areas[:, 0], areas[:, 1]
    cols.put("queue_length", at, cuts[:, 7])
    cols.put("in_service", at, cuts[:, 8])
    workers = b.workers
    cols.put("utilisation", at, busy / (workers * width) if workers < math.inf else np.nan)
    cols.put("in_system_mean", at, (busy + queue) / width)


def bins_frame(ends: array[float], groups: list[GroupBins], services: list[ServiceBins]) -> pd.DataFrame:
    """One row per bin x entity (per bin: each group's client row then its breaker row, then services)."""
    import pandas as pd

    n = len(ends)
    if n == 0:
        return pd.DataFrame(columns=FIRST)
    e = np.frombuffer(ends)
    s = np.concatenate(([0.0], e[:-1]))
    width = e - s
    blocks: list[tuple[str, str, Any]] = []
    for gb in groups:
        blocks.append(("client", gb.name, gb))
        if gb.tracker is not None:
            blocks.append(("breaker", gb.edge, gb))
    blocks.extend(("service", sb.name, sb) for sb in services)
    cols = _Columns(n * len(blocks))
    kinds: list[str] = []
    names: list[str] = []
    for j, (kind, name, b) in enumerate(blocks):
        at = slice(j * n, (j + 1) * n)
        kinds += [kind] * n
        names += [name] * n
        if kind == "client":
            _client(cols, at, b, n)
        elif kind == "breaker":
            _breaker(cols, at, b, n, width)
        else:
            _service(cols, at, b, n, width)
    # rows by bin, then by entity
    order = (np.arange(len(blocks))[None, :] * n + np.arange(n)[:, None]).ravel()
    data: dict[str, Any] = {
        "bin_start": np.tile(s, len(blocks))[order],
        "bin_end": np.tile(e, len(blocks))[order],
        "entity_kind": [kinds[i] for i in order],
        "entity": [names[i] for i in order],
    }
    for name, col in cols.data.items():
        data[name] = col[order]
    df = pd.DataFrame(data)
    client = [c for c in df.columns if c not in FIRST and not c.startswith(("failures_", "degraded_"))]
    by_reason = sorted(c for c in df.columns if c.startswith(("failures_", "degraded_")))
    split = client.index("in_flight") if "in_flight" in client else len(client)
    df = df[FIRST + client[:split] + by_reason + client[split:]]
    if by_reason:
        rows = df["entity_kind"] == "client"
        df.loc[rows, by_reason] = df.loc[rows, by_reason].fillna(0)
    return df
