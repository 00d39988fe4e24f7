"""Looking at one run: a plotly figure of its time course, and the HTML a notebook shows for it."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type stubs

    from sim.scenario.spec import Scenario

__all__ = ["RunLike", "result_figure", "result_html", "settled_seconds", "sparkline_svg", "summary_rows"]


class RunLike(Protocol):
    """What a view reads of a run (``sim.RunResult`` has it all)."""

    scenario: Scenario
    seed: int
    sim_seconds: float
    summary: dict[str, Any]
    offered_per_second: list[int]
    goodput_per_second: list[int]

    @property
    def bins(self) -> pd.DataFrame: ...


TIME_AXIS = "simulated time (s)"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def settled_seconds(result: RunLike) -> int:
    """Whole seconds whose arrivals had the SLO latency to finish before the run ended."""
    end = math.floor(result.sim_seconds - result.scenario.slo_latency)
    return max(0, min(len(result.offered_per_second), end))


def summary_rows(result: RunLike) -> list[tuple[str, str]]:
    """The headline figures of a run, formatted: (label, value)."""
    s = result.summary
    lat = s["latency_seconds"]
    rows = [
        ("scenario", s["scenario"]),
        ("seed", s["seed"]),
        ("simulated seconds", s["sim_seconds"]),
        ("requests", s["requests"]),
        ("attempts", s["attempts"]),
        ("amplification", s["amplification"]),
        ("success ratio", s["success_ratio"]),
        ("goodput ratio", s["goodput_ratio"]),
        ("latency p50 / p99 (s)", f"{_fmt(lat['p50'])} / {_fmt(lat['p99'])}"),
        ("failures", sum(s["failures"].values())),
        *((f"failures: {k}", v) for k, v in s["failures"].items()),
    ]
    if s["breakers"]:
        rows.append(("breakers opened", sum(b["opened"] for b in s["breakers"].values())))
    if result.scenario.faults:
        rows.append(("recovery (s)", "never" if s["recovery_seconds"] is None else s["recovery_seconds"]))
    return [(k, _fmt(v)) for k, v in rows]


def sparkline_svg(
    offered: Sequence[float],
    good: Sequence[float],
    faults: Sequence[tuple[float, float]],
    *,
    width: int = 420,
    height: int = 120,
) -> str:
    """A small inline SVG: offered (grey) and goodput (green) per second, faults shaded, axes labelled."""
    left, bottom, top = 34, 22, 16
    w, h = width - left - 4, height - bottom - top
    n = max(len(offered), 1)
    peak = max([*offered, *good, 1])

    def x(t: float) -> float:
        return left + w * t / n

    def y(v: float) -> float:
        return top + h * (1 - v / peak)

    def line(values: Sequence[float], colour: str) -> str:
        pts = " ".join(f"{x(i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(values))
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{pts}"/>'

    shades = "".join(
        f'<rect x="{x(a):.1f}" y="{top}" width="{max(x(b) - x(a), 1):.1f}" height="{h}" fill="#d62728" '
        'fill-opacity="0.12"/>'
        for a, b in faults
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="offered and goodput per second" style="font:10px sans-serif">'
        f"{shades}"
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#888"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#888"/>'
        f"{line(offered, '#7f7f7f')}{line(good, '#2ca02c')}"
        f'<text x="{left - 3}" y="{top + 8}" text-anchor="end">{_fmt(float(peak))}</text>'
        f'<text x="{left - 3}" y="{top + h}" text-anchor="end">0</text>'
        f'<text x="{left + w}" y="{height - 8}" text-anchor="end">{n} s</text>'
        f'<text x="{left + w / 2}" y="{height - 8}" text-anchor="middle">{TIME_AXIS}</text>'
        f'<text x="{left}" y="10" fill="#7f7f7f">offered/s</text>'
        f'<text x="{left + 60}" y="10" fill="#2ca02c">goodput/s</text>'
        "</svg>"
    )


def result_html(result: RunLike) -> str:
    """The notebook view of a run: a summary table beside a small SVG of offered vs goodput."""
    rows = "".join(
        f'<tr><th style="text-align:left;white-space:nowrap">{html.escape(k)}</th>'
        f'<td style="text-align:right;white-space:nowrap">{html.escape(v)}</td></tr>'
        for k, v in summary_rows(result)
    )
    faults = [(f.start, f.end) for f in result.scenario.faults]
    n = settled_seconds(result)
    svg = sparkline_svg(result.offered_per_second[:n], result.goodput_per_second[:n], faults)
    return (
        '<div class="rwb-run-result" style="display:flex;gap:1em;align-items:flex-start">'
        f"<table>{rows}</table><div>{svg}</div></div>"
    )


def result_figure(result: RunLike) -> go.Figure:
    """Offered vs goodput per second, success ratio per bin, and breaker open fraction (when the
    scenario has breakers), on a shared time axis; faults shaded."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    b = result.bins
    breakers = b[b.entity_kind == "breaker"]
    has_breakers = not breakers.empty
    titles = ["offered vs goodput (requests per second, by arrival)", "success ratio of finished requests"]
    if has_breakers:
        titles.append("breakers open (fraction of instances)")
    fig = make_subplots(
        rows=len(titles), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.08
    )
    n = settled_seconds(result)
    seconds = np.arange(n) + 0.5
    offered, good = result.offered_per_second[:n], result.goodput_per_second[:n]
    fig.add_trace(go.Scatter(x=seconds, y=offered, name="offered", line={"color": "#7f7f7f"}), 1, 1)
    fig.add_trace(go.Scatter(x=seconds, y=good, name="goodput", line={"color": "#2ca02c"}), 1, 1)
    clients = b[b.entity_kind == "client"].groupby("bin_start").sum(numeric_only=True)
    finished = clients["successes"] + clients["failures"]
    ratio = (clients["successes"] / finished.where(finished > 0)).astype(float)
    mid = clients.index + result.scenario.bin_width / 2
    fig.add_trace(go.Scatter(x=mid, y=ratio, name="success ratio", line={"color": "#1f77b4"}), 2, 1)
    if has_breakers:
        for edge, rows in breakers.groupby("entity"):
            fig.add_trace(
                go.Scatter(
                    x=rows.bin_start + result.scenario.bin_width / 2,
                    y=rows.breaker_open_fraction,
                    name=f"open {edge}",
                ),
                3,
                1,
            )
    for f in result.scenario.faults:
        fig.add_vrect(x0=f.start, x1=f.end, fillcolor="#d62728", opacity=0.12, line_width=0)
    fig.update_yaxes(title_text="requests/s", row=1, col=1)
    fig.update_yaxes(title_text="success ratio", range=[0, 1.05], row=2, col=1)
    if has_breakers:
        fig.update_yaxes(title_text="open fraction", range=[0, 1.05], row=3, col=1)
    fig.update_xaxes(title_text=TIME_AXIS, row=len(titles), col=1)
    name = result.summary["scenario"]
    fig.update_layout(title=f"{name} (seed {result.seed})", height=260 * len(titles) + 80)
    if result.scenario.warmup > 0:
        fig.add_vline(
            x=result.scenario.warmup, line_dash="dot", line_color="#999", annotation_text="warm-up end"
        )
    return fig
