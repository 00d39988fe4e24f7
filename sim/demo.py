"""The flagship demo: a retry storm under a short overload spike, naive vs resilient clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resilience._config import ConfigError
from sim.engine import run
from sim.observe.result import RunResult
from sim.scenario.loader import ScenarioError, load_scenario
from sim.scenario.spec import Scenario

__all__ = ["SCENARIOS", "demo_scenarios", "html_report", "run_demo", "run_scenarios", "table"]

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


def table(results: list[RunResult]) -> str:
    """A side-by-side text table of the headline figures."""
    rows: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("requests", lambda s: s["requests"]),
        ("attempts", lambda s: s["attempts"]),
        ("amplification", lambda s: s["amplification"]),
        ("success ratio", lambda s: s["success_ratio"]),
        ("goodput ratio", lambda s: s["goodput_ratio"]),
        ("p99 latency (s)", lambda s: s["latency_seconds"]["p99"]),
        ("failures", lambda s: sum(s["failures"].values())),
        (
            "breaker opened",
            lambda s: sum(b["opened"] for b in s["breakers"].values()) if s["breakers"] else "-",
        ),
        ("recovery (s)", lambda s: s["recovery_seconds"]),
    ]
    names = [r.summary["scenario"] for r in results]
    width = max(len(n) for n in names) + 2
    lines = ["".ljust(18) + "".join(n.rjust(width) for n in names)]
    for label, get in rows:
        lines.append(label.ljust(18) + "".join(_fmt(get(r.summary)).rjust(width) for r in results))
    return "\n".join(lines)


def html_report(results: list[RunResult], path: Path) -> Path:
    """Plotly charts (goodput, attempts, service queue) of each run, side by side, in one HTML file."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type stubs
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        subplot_titles=(
            "goodput (successes within SLO) per second",
            "attempts per second",
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
    fig.update_layout(height=900, title="Retry storm under a short overload spike")
    fig.update_xaxes(title_text="simulated seconds", row=3, col=1)
    summary = "<pre>" + table(results) + "</pre>"
    html = fig.to_html(full_html=True, include_plotlyjs=True)
    html = html.replace("<body>", "<body><h1>Retry storm: naive vs resilient</h1>" + summary, 1)
    path.write_text(html, encoding="utf-8")
    return path


def run_demo(
    out: Path | None = None, *, seed: int = 1, duration: float | None = None, progress: bool = True
) -> tuple[list[RunResult], Path | None]:
    """Run both sides; print nothing; return the results and the report path (if ``out``)."""
    return run_scenarios(demo_scenarios(duration), out, seed=seed, progress=progress)


def run_scenarios(
    scenarios: list[Scenario], out: Path | None = None, *, seed: int = 1, progress: bool = True
) -> tuple[list[RunResult], Path | None]:
    """Run the given demo scenarios; return the results and the report path (if ``out``)."""
    results = [run(sc, seed, progress=progress) for sc in scenarios]
    report = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        report = html_report(results, out / "retry_storm.html")
    return results, report
