"""The scraped samples as OpenMetrics text, with timestamps from the scenario epoch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resilience.metrics.catalog import CATALOG, MetricType

__all__ = ["render_openmetrics"]

Sample = tuple[str, tuple[tuple[str, str], ...], Any]


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _num(v: float) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    return repr(float(v))


def render_openmetrics(samples: list[tuple[float, list[Sample]]], epoch: float) -> str:
    """Cumulative counters, gauges and histograms at each scrape time, grouped by family, ``# EOF`` last."""
    series: dict[str, dict[tuple[tuple[str, str], ...], list[tuple[float, Any]]]] = {}
    for t, points in samples:
        for name, labels, value in points:
            series.setdefault(name, {}).setdefault(labels, []).append((t, value))
    lines: list[str] = []
    for name in sorted(series):
        spec = CATALOG[name]
        family = spec.family
        lines.append(f"# TYPE {family} {spec.type.value}")
        lines.append(f"# HELP {family} {_esc(spec.help)}")
        if spec.type is MetricType.HISTOGRAM:
            bounds = [*(_num(b) for b in spec.buckets), "+Inf"]
        for labels, points in series[name].items():
            for t, value in points:
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
