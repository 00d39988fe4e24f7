"""The flagship demo: a retry storm under a short overload spike, naive vs resilient clients."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resilience._config import ConfigError
from sim.engine import run
from sim.observe.result import RunResult
from sim.scenario.loader import ScenarioError, load_scenario
from sim.scenario.spec import Scenario

if TYPE_CHECKING:
    import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type stubs

__all__ = [
    "PLOTLY_MODES",
    "ROWS",
    "SCENARIOS",
    "demo_scenarios",
    "html_report",
    "parameter_rows",
    "report_figure",
    "run_demo",
    "run_scenarios",
    "table",
]

ROOT = Path(__file__).resolve().parent / "scenarios"  # package data (copies of scenarios/retry_storm*.toml)
SCENARIOS = (ROOT / "retry_storm.toml", ROOT / "retry_storm_resilient.toml")


def demo_scenarios(duration: float | None = None) -> list[Scenario]:
    """The naive and the resilient scenario (optionally shortened to ``duration`` seconds).

    A ``duration`` the scenarios cannot take raises one ``ScenarioError`` naming ``--duration``.
    """
    out = []
    problems: dict[tuple[str, str], ScenarioError] = {}
    for path in SCENARIOS:
        sc = load_scenario(path)
        if duration is not None:
            try:
                sc = dataclasses.replace(sc, duration=duration)
            except ConfigError as e:
                for p in getattr(e, "problems", [e]):
                    text = f"{path.name}: {p.field}={p.value!r}: {p.rule}"
                    error = ScenarioError(f"--duration={duration}", "", None, text)
                    problems.setdefault((p.field, p.rule), error)
        out.append(sc)
    if problems:
        first, *more = problems.values()
        raise ScenarioError(first.source, "", None, first.rule, more=more)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "never"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


ROWS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("requests", lambda s: s["requests"]),
    ("attempts", lambda s: s["attempts"]),
    ("amplification", lambda s: s["amplification"]),
    ("success ratio", lambda s: s["success_ratio"]),
    ("goodput ratio", lambda s: s["goodput_ratio"]),
    ("p99 latency (s)", lambda s: s["latency_seconds"]["p99"]),
    ("failures", lambda s: sum(s["failures"].values())),
    ("breaker opened", lambda s: sum(b["opened"] for b in s["breakers"].values()) if s["breakers"] else "-"),
    ("recovery (s)", lambda s: s["recovery_seconds"]),
]
"""The headline figures of the demo: (label, summary -> value)."""


def table(results: list[RunResult]) -> str:
    """A side-by-side text table of the headline figures."""
    names = [r.summary["scenario"] for r in results]
    width = max(len(n) for n in names) + 2
    lines = ["".ljust(18) + "".join(n.rjust(width) for n in names)]
    for label, get in ROWS:
        lines.append(label.ljust(18) + "".join(_fmt(get(r.summary)).rjust(width) for r in results))
    return "\n".join(lines)


PLOTLY_MODES = ("inline", "cdn")


def parameter_rows(scenarios: list[Scenario]) -> list[tuple[str, list[Any], bool]]:
    """Each setting (dotted path) that any scenario sets to other than its default, its value in each
    scenario (``None`` where unset), and whether the values differ."""
    chosen = {k for sc in scenarios for k in sc.parameters()}
    full = [sc.parameters(defaults=True) for sc in scenarios]
    keys = [k for k in dict.fromkeys(k for p in full for k in p) if k in chosen]
    rows = []
    for k in keys:
        values = [p.get(k) for p in full]
        rows.append((k, values, any(v != values[0] for v in values)))
    return rows


def _cell(v: Any) -> str:
    return "<td>unset</td>" if v is None else f"<td><code>{escape(json.dumps(v))}</code></td>"


def _report_tables(results: list[RunResult]) -> str:
    names = [escape(r.summary["scenario"]) for r in results]
    head = "<tr><th></th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    figures = "".join(
        f"<tr><th>{escape(label)}</th>"
        + "".join(f"<td>{escape(_fmt(get(r.summary)))}</td>" for r in results)
        + "</tr>"
        for label, get in ROWS
    )
    params = "".join(
        f"<tr{' class=diff' if differ else ''}><th><code>{escape(k)}</code></th>"
        + "".join(_cell(v) for v in values)
        + "</tr>"
        for k, values, differ in parameter_rows([r.scenario for r in results])
    )
    return (
        f"<h2>Results</h2><table>{head}{figures}</table>"
        "<h2>Parameters</h2><p>Every setting that differs from its default in any scenario; rows in bold"
        f" differ between the scenarios.</p><table>{head}{params}</table>"
    )


def report_figure(results: list[RunResult]) -> go.Figure:
    """The report's chart: goodput, attempts and service queue of each run over time, faults shaded."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    seed_text = ", ".join(str(s) for s in sorted({r.seed for r in results}))
    names = ", ".join(r.summary["scenario"] for r in results)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        subplot_titles=(
            "goodput per second (successes within the SLO latency)",
            "attempts per second (first tries and retries)",
            "service queue length",
        ),
    )
    for r in results:
        b = r.bins
        name = r.summary["scenario"]
        c = b[b.entity_kind == "client"].groupby("bin_start").sum(numeric_only=True)
        s = b[b.entity_kind == "service"].groupby("bin_start").sum(numeric_only=True)
        w = r.scenario.bin_width
        fig.add_trace(go.Scatter(x=c.index, y=c["goodput"] / w, name=f"{name} goodput"), row=1, col=1)
        fig.add_trace(go.Scatter(x=c.index, y=c["attempts"] / w, name=f"{name} attempts"), row=2, col=1)
        fig.add_trace(go.Scatter(x=s.index, y=s["queue_length"], name=f"{name} queue"), row=3, col=1)
    for f in results[0].scenario.faults:
        fig.add_vrect(x0=f.start, x1=f.end, fillcolor="red", opacity=0.12, line_width=0)
    fig.update_layout(
        height=900, title=f"Retry storm under a short overload spike: {names} (seed {seed_text})"
    )
    fig.update_yaxes(title_text="requests/s", row=1, col=1)
    fig.update_yaxes(title_text="attempts/s", row=2, col=1)
    fig.update_yaxes(title_text="requests queued", row=3, col=1)
    fig.update_xaxes(title_text="simulated time (s)", row=3, col=1)
    return fig


def html_report(results: list[RunResult], path: Path, *, plotly: str = "inline") -> Path:
    """One HTML file: the scenarios, seed and parameters, the headline figures, and plotly charts
    (goodput, attempts, service queue) of each run on a shared time axis.

    ``plotly="inline"`` embeds plotly.js (the file opens offline); ``"cdn"`` loads it from the CDN.
    """
    if plotly not in PLOTLY_MODES:
        raise ValueError(f"plotly={plotly!r}: must be one of {', '.join(PLOTLY_MODES)}")
    seed_text = ", ".join(str(s) for s in sorted({r.seed for r in results}))
    names = ", ".join(r.summary["scenario"] for r in results)
    chart = report_figure(results).to_html(
        full_html=False, include_plotlyjs=True if plotly == "inline" else "cdn"
    )
    title = f"Retry storm: {names}, seed {seed_text}"
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Retry storm: naive vs resilient</h1><p>Scenarios <b>{escape(names)}</b>, seed"
        f" <b>{escape(seed_text)}</b>; the shaded span is the fault.</p>"
        f"{_report_tables(results)}<h2>Over time</h2>{chart}</body></html>\n"
    )
    path.write_text(html, encoding="utf-8")
    return path


_STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}"
    "th,td{border:1px solid #ddd;padding:2px 8px;text-align:right}th{text-align:left}"
    "tr.diff{font-weight:bold;background:#fff6e0}"
)


def run_demo(
    out: Path | None = None,
    *,
    seed: int = 1,
    duration: float | None = None,
    progress: bool = True,
    plotly: str = "inline",
) -> tuple[list[RunResult], Path | None]:
    """Run both sides; print nothing; return the results and the report path (if ``out``)."""
    return run_scenarios(demo_scenarios(duration), out, seed=seed, progress=progress, plotly=plotly)


def run_scenarios(
    scenarios: list[Scenario],
    out: Path | None = None,
    *,
    seed: int = 1,
    progress: bool = True,
    plotly: str = "inline",
) -> tuple[list[RunResult], Path | None]:
    """Run the given demo scenarios; return the results and the report path (if ``out``)."""
    results = [run(sc, seed, progress=progress) for sc in scenarios]
    report = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report = html_report(results, out / "retry_storm.html", plotly=plotly)
    return results, report
