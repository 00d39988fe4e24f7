"""Run every panel query of exported dashboards against a Prometheus, as Grafana would.

Grafana variables in expressions (``$name``, ``${run}``, ``$__rate_interval``,
``$__interval``...) are replaced by the values given; legends ``{{label}}``
are filled from each series' labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Key", "Prometheus", "Results", "Series", "evaluate", "panels", "substitute"]

Key = tuple[str, int, str]
"""(dashboard uid, panel id, refId)."""

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")
_LEGEND = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Prometheus(Protocol):
    """What ``evaluate`` needs: ``LocalPrometheus`` or anything with the same ``query_range``."""

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Series:
    """One result series: its labels, its legend (as Grafana would draw it) and ``(t, value)`` points."""

    metric: dict[str, str]
    legend: str
    values: list[tuple[float, float]]


Results = dict[Key, list[Series]]


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with ``$var`` / ``${var}`` replaced; keys may be given with or without the ``$``.

    An unknown variable is an error (Prometheus would reject the literal ``$``).
    """
    values = {k.lstrip("$"): v for k, v in variables.items()}

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(f"expression uses ${name}, which has no value (given: {sorted(values)}): {expr}")
        return values[name]

    return _VAR.sub(value, expr)


def _duration(seconds: float) -> str:
    """A PromQL duration in whole milliseconds."""
    return f"{max(1, round(seconds * 1000))}ms"


def legend(fmt: str, metric: Mapping[str, str]) -> str:
    """Grafana's legend format: ``{{label}}`` replaced by the label's value (empty if absent)."""
    if not fmt or fmt == "__auto":
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
        return f"{metric.get('__name__', '')}{{{inner}}}"
    return _LEGEND.sub(lambda m: metric.get(m.group(1), ""), fmt).strip()


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every non-row panel, collapsed rows' panels included, in layout order."""
    out: list[dict[str, Any]] = []
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            out.extend(p.get("panels", []))
        else:
            out.append(p)
    yield from sorted(out, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"], p["id"]))


def evaluate(
    dashboards: list[dict[str, Any]],
    prom: Prometheus,
    start: float,
    end: float,
    step: float,
    variables: Mapping[str, str],
    *,
    scrape_interval: float | None = None,
) -> Results:
    """Every target of every panel, queried over [start, end] every ``step`` seconds.

    Keys are (dashboard uid, panel id, refId); values the series with legends filled in.
    ``$__interval`` defaults to ``step``; ``$__rate_interval`` to Grafana's rule,
    max(step + scrape, 4 x scrape), when ``scrape_interval`` is given.
    """
    variables = {k.lstrip("$"): v for k, v in variables.items()}
    variables.setdefault("__interval", _duration(step))
    if scrape_interval is not None:
        variables.setdefault("__rate_interval", _duration(max(step + scrape_interval, 4 * scrape_interval)))
    results: Results = {}
    for dashboard in dashboards:
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                expr = substitute(target["expr"], variables)
                series = prom.query_range(expr, start, end, step)
                fmt = str(target.get("legendFormat", ""))
                results[(dashboard["uid"], int(panel["id"]), str(target["refId"]))] = [
                    Series(dict(s["metric"]), legend(fmt, s["metric"]), list(s["values"])) for s in series
                ]
    return results
