"""Small views of a ``RunResult`` that the notebooks plot."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim import RunResult, Scenario

__all__ = [
    "figure_widget",
    "per_bin",
    "ratio",
    "timeouts_over_time",
    "set_xy",
    "shade_faults",
    "timeouts_by_phase",
]

_TIMEOUTS = re.compile(r"^resilience_timeouts_total\{([^}]*)\} (\S+)(?: (\S+))?")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def per_bin(result: RunResult, kind: str, entity: str | None = None) -> pd.DataFrame:
    """The ``result.bins`` rows of one entity kind (``client``, ``breaker``, ``service``), indexed by
    ``bin_start``; with several entities of the kind, ``entity`` picks one (default: the first)."""
    bins = result.bins
    rows = bins[bins["entity_kind"] == kind]
    if rows.empty:
        raise ValueError(f"kind={kind!r}: no such rows in the result's bins")
    name = entity if entity is not None else rows["entity"].iloc[0]
    return rows[rows["entity"] == name].set_index("bin_start").dropna(axis=1, how="all")


def ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    """Element-wise ratio with NaN (a gap in the plot) where the denominator is 0."""
    num = numerator.to_numpy(dtype=float)
    den = denominator.to_numpy(dtype=float)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def timeouts_by_phase(result: RunResult) -> dict[tuple[str, str], float]:
    """Final ``resilience_timeouts_total`` per ``(source, phase)``, summed over edges."""
    last: dict[tuple[tuple[str, str], ...], float] = {}
    for line in result.series.splitlines():
        m = _TIMEOUTS.match(line)
        if m:
            labels = tuple(sorted(_LABEL.findall(m.group(1))))
            last[labels] = float(m.group(2))  # cumulative: the last sample is the total
    totals: dict[tuple[str, str], float] = {}
    for labels, value in last.items():
        d = dict(labels)
        key = (d.get("source", ""), d.get("phase", ""))
        totals[key] = totals.get(key, 0.0) + value
    return totals


def timeouts_over_time(result: RunResult, epoch: float) -> pd.DataFrame:
    """Timeouts per scrape interval: one column per ``source/phase``, indexed by simulated time
    (the scrape's timestamp minus ``epoch``)."""
    rows: dict[tuple[float, str], float] = {}
    for line in result.series.splitlines():
        m = _TIMEOUTS.match(line)
        if m and m.group(3) is not None:
            d = dict(_LABEL.findall(m.group(1)))
            key = (float(m.group(3)) - epoch, f"{d.get('source', '')}/{d.get('phase', '')}")
            rows[key] = rows.get(key, 0.0) + float(m.group(2))
    if not rows:
        return pd.DataFrame()
    cumulative = pd.Series(rows).unstack(fill_value=0.0).sort_index().ffill()
    return cumulative.diff().fillna(cumulative.iloc[:1])


def figure_widget(rows: int, titles: list[str], *, height: int = 220, **layout: Any) -> go.FigureWidget:
    """An empty ``FigureWidget`` with ``rows`` stacked plots sharing the time axis."""
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.06)
    fig.update_layout(height=height * rows, margin={"l": 60, "r": 20, "t": 40, "b": 40}, **layout)
    fig.update_xaxes(title_text="simulated time (s)", row=rows, col=1)
    return go.FigureWidget(fig)


def set_xy(fig: go.FigureWidget, name: str, x: Any, y: Any) -> None:
    """Replace the data of the trace called ``name``."""
    trace = next(t for t in fig.data if t.name == name)
    trace.x = np.asarray(x, dtype=float)
    trace.y = np.asarray(y, dtype=float)


def shade_faults(fig: go.FigureWidget, scenario: Scenario) -> None:
    """Grey bands over the scenario's fault windows (replacing earlier ones)."""
    fig.layout.shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": f.start,
            "x1": f.start + f.duration,
            "y0": 0,
            "y1": 1,
            "fillcolor": "grey",
            "opacity": 0.15,
            "line": {"width": 0},
            "layer": "below",
        }
        for f in scenario.faults
    ]
