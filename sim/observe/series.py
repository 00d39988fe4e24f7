"""The scraped samples as OpenMetrics text, with timestamps from the scenario epoch."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any

from resilience.metrics.catalog import CATALOG, MetricType
from sim.observe.column import Column

__all__ = ["ScrapeStore", "bucket_bound", "render_openmetrics"]

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, Labels, Any]


class ScrapeStore:
    """Scraped samples kept flat: per sample a series id and a value in columns, so a long run keeps
    no per-scrape objects for the garbage collector to trace. ``samples()`` gives them back."""

    __slots__ = ("_ids", "ends", "hist", "ids", "keys", "times", "values")

    def __init__(self) -> None:
        self.times = array("d")  # scrape times
        self.ends = array("q")  # each scrape's end in ``ids`` / ``values``
        self.ids = Column("q")
        self.values = Column("d")  # counter and gauge values (counts are exact below 2**53); histogram sums
        self.hist = Column("q")  # histogram bucket counts, in sample order
        self.keys: list[tuple[str, Labels, int]] = []  # by series id: name, labels, buckets (0: no histogram)
        self._ids: dict[tuple[str, Labels], int] = {}

    def __len__(self) -> int:
        return len(self.times)

    @property
    def last(self) -> float:
        """The time of the latest scrape (-inf before the first)."""
        return self.times[-1] if self.times else -math.inf

    def append(self, t: float, points: list[Sample]) -> None:
        """Store one scrape: ``(name, labels, value)`` with value a number or (bucket counts, sum)."""
        ids, values, known = self.ids, self.values, self._ids
        for name, labels, value in points:
            sid = known.get((name, labels))
            if sid is None:
                sid = known[name, labels] = len(self.keys)
                self.keys.append((name, labels, len(value[0]) if type(value) is tuple else 0))
            ids.append(sid)
            if type(value) is tuple:
                self.hist.extend(value[0])
                values.append(value[1])
            else:
                values.append(value)
        self.times.append(t)
        self.ends.append(len(ids))

    def samples(self) -> list[tuple[float, list[Sample]]]:
        """Every scrape as ``(t, [(name, labels, value), …])``, values as stored."""
        out: list[tuple[float, list[Sample]]] = []
        keys, ids, values, hist = self.keys, self.ids.array(), self.values.array(), self.hist.array()
        i = h = 0
        for t, end in zip(self.times, self.ends, strict=True):
            points: list[Sample] = []
            while i < end:
                name, labels, nb = keys[ids[i]]
                if nb:
                    points.append((name, labels, (tuple(hist[h : h + nb]), values[i])))
                    h += nb
                else:
                    points.append((name, labels, values[i]))
                i += 1
            out.append((t, points))
        return out


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _num(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))


def bucket_bound(v: float) -> str:
    """A bucket bound as ``prometheus_client`` writes ``le`` (Go float form): ``1.0``, ``0.005``, ``+Inf``."""
    if v == math.inf:
        return "+Inf"
    s = repr(float(v))
    dot = s.find(".")
    if v > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return s


def _zero(value: Any) -> Any:
    """The value of a counter or histogram before its first event: zero counts, zero sum."""
    return ((0,) * len(value[0]), 0.0) if type(value) is tuple else 0


def render_openmetrics(samples: list[tuple[float, list[Sample]]], epoch: float) -> str:
    """Cumulative counters, gauges and histograms at each scrape time, grouped by family, ``# EOF`` last.

    A counter or histogram first seen after the first scrape gets a zero sample at the scrape before
    (its true value then), so ``rate()`` and ``increase()`` count its first events.
    """
    series: dict[str, dict[tuple[tuple[str, str], ...], list[tuple[float, Any]]]] = {}
    previous: float | None = None
    for t, points in samples:
        for name, labels, value in points:
            by_labels = series.setdefault(name, {})
            values = by_labels.get(labels)
            if values is None:
                values = by_labels[labels] = []
                if previous is not None and CATALOG[name].type is not MetricType.GAUGE:
                    values.append((previous, _zero(value)))
            values.append((t, value))
        previous = t
    lines: list[str] = []
    for name in sorted(series):
        spec = CATALOG[name]
        family = spec.family
        lines.append(f"# TYPE {family} {spec.type.value}")
        lines.append(f"# HELP {family} {_esc(spec.help)}")
        if spec.type is MetricType.HISTOGRAM:
            bounds = [bucket_bound(b) for b in spec.buckets] + ["+Inf"]
        for labels, values in series[name].items():
            for t, value in values:
                ts = f"{epoch + t:.3f}"
                if spec.type is MetricType.COUNTER:
                    lines.append(f"{family}_total{_labels(labels)} {_num(value)} {ts}")
                elif spec.type is MetricType.GAUGE:
                    lines.append(f"{family}{_labels(labels)} {_num(value)} {ts}")
                else:
                    counts, total = value
                    acc = 0
                    for le, c in zip(bounds, counts, strict=True):
                        acc += c
                        lines.append(f"{family}_bucket{_labels((*labels, ('le', le)))} {acc} {ts}")
                    lines.append(f"{family}_count{_labels(labels)} {acc} {ts}")
                    lines.append(f"{family}_sum{_labels(labels)} {_num(total)} {ts}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
