"""Compare two scenarios under common random numbers: paired per-seed differences with intervals.

Both scenarios run with the same seeds; every random stream is keyed by component name, so
components with the same name draw the same numbers on both sides and each seed's difference
B - A is a paired observation. The interval of the mean difference is Student-t at 95%.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.experiments.grid import LEVEL, _t, metric_columns
from sim.scenario.spec import Scenario
from sim.sweep import _frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "FailIf", "compare", "component_names", "parse_fail_if"]

HEADLINE = (
    "success_ratio",
    "goodput_ratio",
    "amplification",
    "latency_p50",
    "latency_p99",
    "p99_after_fault",
    "recovery_seconds",
)
CRN = (
    "common random numbers: both scenarios ran with the same seeds and each seed's difference B - A is paired"
)


def component_names(scenario: Scenario) -> set[str]:
    """The names that key the random streams: ``clients.<g>``, ``services.<s>``, ``links.<l>``."""
    return (
        {f"clients.{n}" for n in scenario.clients}
        | {f"services.{n}" for n in scenario.services}
        | {f"links.{n}" for n in scenario.links}
    )


def compare_run(scenario: Scenario, seed: int) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """One run's row and its time series (per bin: goodput/s, attempts/s, p99 latency, queue length)."""
    from sim.engine import run
    from sim.sweep import flatten, p99_after_fault

    result = run(scenario, seed)
    row = flatten(result.summary)
    row["p99_after_fault"] = p99_after_fault(result)
    b = result.bins
    clients = b[b.entity_kind == "client"].groupby("bin_start")
    c = clients.sum(numeric_only=True)
    p99 = clients["latency_p99"].max()
    s = b[b.entity_kind == "service"].groupby("bin_start").sum(numeric_only=True)
    width = c["bin_end"] - c.index
    series = {
        "t": [float(x) for x in c.index],
        "goodput_per_second": (c["goodput"] / width).tolist(),
        "attempts_per_second": (c["attempts"] / width).tolist(),
        "latency_p99": p99.reindex(c.index).tolist(),
        "queue_length": s["queue_length"].reindex(c.index).fillna(0).tolist() if len(s) else [],
    }
    return row, series


_CI_HEAD = "95% interval of B - A"
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(r"^\s*(?:(a|b)\.)?([A-Za-z_][\w\[\]\-→.>]*?)\s*(<=|>=|<|>)\s*([-+0-9.eEinfINF]+)\s*$")


@dataclass(frozen=True)
class FailIf:
    """``[a.|b.]metric OP bound``: on the mean difference B - A, or on one side's mean with ``a.``/``b.``."""

    text: str
    side: str  # "a", "b" or "diff"
    metric: str
    op: str
    bound: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.bound)


def parse_fail_if(text: str) -> FailIf:
    """Parse ``'metric<bound'`` (also ``>``, ``<=``, ``>=``, ``a.metric``, ``b.metric``)."""
    m = _EXPR.match(text)
    if not m:
        raise ValueError(
            f"--fail-if={text!r}: must look like 'metric<bound', 'b.metric>=bound' (ops < <= > >=)"
        )
    side, metric, op, bound = m.groups()
    try:
        value = float(bound)
    except ValueError:
        raise ValueError(f"--fail-if={text!r}: bound {bound!r} is not a number") from None
    return FailIf(text=text, side=side or "diff", metric=metric, op=op, bound=value)


@dataclass
class Comparison:
    """Result of ``compare``: per-seed runs of both sides, the paired table and the time series."""

    a: Scenario
    b: Scenario
    seeds: list[int]
    runs: pd.DataFrame  # one row per (side, seed); ``side`` is "a" or "b"
    table: pd.DataFrame  # per metric: a_mean, b_mean, diff_mean, ci_low, ci_high, n
    series: dict[str, list[dict[str, list[float]]]]  # side -> one series dict per seed
    warnings: list[str] = field(default_factory=list)

    def value(self, rule: FailIf) -> float:
        """The figure a ``--fail-if`` rule looks at; KeyError when the metric is not in the table."""
        row = self.table[self.table.metric == rule.metric]
        if row.empty:
            raise KeyError(rule.metric)
        column = {"a": "a_mean", "b": "b_mean", "diff": "diff_mean"}[rule.side]
        return float(row[column].iloc[0])

    def violated(self, rules: Iterable[FailIf]) -> list[str]:
        """One line per rule that holds (a failed gate); NaN values count as holding."""
        out = []
        for r in rules:
            v = self.value(r)
            if math.isnan(v) or r.holds(v):
                what = {"a": "A mean", "b": "B mean", "diff": "mean of B - A"}[r.side]
                out.append(f"--fail-if {r.text!r}: {r.metric} {what} = {v:.6g} (bound {r.op} {r.bound:g})")
        return out

    def text(self) -> str:
        """The table as fixed-width text, headline metrics first."""
        w = max([28, *(len(m) + 2 for m in self.table.metric)])
        lines = [
            f"A = {self.a.name}, B = {self.b.name}, seeds {_seeds_text(self.seeds)}",
            f"{CRN}; intervals are {LEVEL:.0%} Student-t intervals of the mean difference.",
            f"{'metric':<{w}}{'A mean':>12}{'B mean':>12}{'B - A':>12}   {_CI_HEAD:<26}{'n':>4}",
        ]
        for r in self.table.itertuples():
            ci = f"[{r.ci_low:.4g}, {r.ci_high:.4g}]"
            lines.append(
                f"{r.metric:<{w}}{r.a_mean:>12.4g}{r.b_mean:>12.4g}{r.diff_mean:>12.4g}   {ci:<26}{r.n:>4}"
            )
        return "\n".join(lines)

    def write_html(self, path: str | Path) -> Path:
        """An HTML report: the paired table and the time series of both sides overlaid (seed means)."""
        return _report(self, Path(path))


def _seeds_text(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}..{seeds[-1]}"
    return ",".join(map(str, seeds))


def paired_table(runs: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """Per metric: both sides' means and the paired mean difference B - A with its interval."""
    import pandas as pd

    a = runs[runs.side == "a"].set_index("seed")
    b = runs[runs.side == "b"].set_index("seed")
    metrics = [m for m in metric_columns(runs, ("side",)) if m in a and m in b]
    order = [m for m in HEADLINE if m in metrics] + [m for m in metrics if m not in HEADLINE]
    out = []
    for m in order:
        pairs = [
            (float(x), float(y))
            for x, y in zip(a[m].tolist(), b.loc[a.index, m].tolist(), strict=True)
            if x is not None and y is not None and not (math.isnan(float(x)) or math.isnan(float(y)))
        ]
        if not pairs:
            continue
        mean_d, half = _t([y - x for x, y in pairs], level)
        out.append(
            {
                "metric": m,
                "a_mean": sum(x for x, _ in pairs) / len(pairs),
                "b_mean": sum(y for _, y in pairs) / len(pairs),
                "diff_mean": mean_d,
                "ci_low": mean_d - half,
                "ci_high": mean_d + half,
                "n": len(pairs),
            }
        )
    return pd.DataFrame(out, columns=["metric", "a_mean", "b_mean", "diff_mean", "ci_low", "ci_high", "n"])


def compare(
    a: Scenario, b: Scenario, seeds: Iterable[int] = range(10), *, executor: Executor | None = None
) -> Comparison:
    """Run ``a`` and ``b`` with the same seeds (process pool unless ``executor``); paired differences.

    Runs without a value for a metric (e.g. ``recovery_seconds`` None: never recovered) leave that
    seed's pair out of that metric; ``n`` says how many pairs remain.
    """
    seeds = list(seeds)
    warnings = []
    na, nb = component_names(a), component_names(b)
    if na != nb:
        only_a, only_b = sorted(na - nb), sorted(nb - na)
        warnings.append(
            "the scenarios' component names differ "
            f"(only in A: {', '.join(only_a) or '-'}; only in B: {', '.join(only_b) or '-'}): "
            "their random streams are not shared, so the pairing removes less noise"
        )
    own = executor is None
    ex = ProcessPoolExecutor(max_workers=min(len(seeds) * 2, 8) or 1) if executor is None else executor
    try:
        futs = {(side, s): ex.submit(compare_run, sc, s) for side, sc in (("a", a), ("b", b)) for s in seeds}
        rows, series = [], {"a": [], "b": []}  # type: ignore[var-annotated]
        for (side, s), f in futs.items():
            row, ser = f.result()
            rows.append({"side": side, **row, "seed": s})
            series[side].append(ser)
    finally:
        if own:
            ex.shutdown(cancel_futures=True)
    runs = _frame(rows)
    return Comparison(a, b, seeds, runs, paired_table(runs), series, warnings)


def _mean_series(parts: list[dict[str, list[float]]], key: str) -> tuple[list[float], list[float]]:
    """The time axis and the per-bin mean of ``key`` over seeds (bins present in every run)."""
    import numpy as np

    n = min(len(p["t"]) for p in parts)
    values = np.array([p[key][:n] if len(p[key]) >= n else [math.nan] * n for p in parts], dtype=float)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin empty on every seed stays NaN
        mean = np.nanmean(values, axis=0) if values.size else np.array([])
    return parts[0]["t"][:n], mean.tolist()


def _report(c: Comparison, path: Path) -> Path:
    import html

    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    panels = (
        ("goodput_per_second", "goodput (successes within SLO) per second", "requests/s"),
        ("attempts_per_second", "attempts per second", "attempts/s"),
        ("latency_p99", "p99 latency per bin", "seconds"),
        ("queue_length", "service queue length", "calls"),
    )
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, subplot_titles=[p[1] for p in panels])
    colours = {"a": "#1f77b4", "b": "#d62728"}
    for side, sc in (("a", c.a), ("b", c.b)):
        for i, (key, _, unit) in enumerate(panels, start=1):
            t, y = _mean_series(c.series[side], key)
            label = f"{side.upper()}: {sc.name}"
            fig.add_trace(
                go.Scatter(x=t, y=y, name=label, legendgroup=side, showlegend=i == 1,
                           line={"color": colours[side]}),
                row=i, col=1,
            )  # fmt: skip
            fig.update_yaxes(title_text=unit, row=i, col=1)
    for f in c.a.faults:
        fig.add_vrect(x0=f.start, x1=f.end, fillcolor="red", opacity=0.1, line_width=0)
    fig.update_xaxes(title_text="simulated seconds", row=len(panels), col=1)
    title = f"{c.a.name} (A) vs {c.b.name} (B), mean over seeds {_seeds_text(c.seeds)}"
    fig.update_layout(height=250 * len(panels), title=title)
    warn = "".join(f"<p><b>warning:</b> {html.escape(w)}</p>" for w in c.warnings)
    head = f"<h1>{html.escape(title)}</h1><p>{html.escape(CRN)}.</p>{warn}<pre>{html.escape(c.text())}</pre>"
    page = fig.to_html(full_html=True, include_plotlyjs=True)
    path.write_text(page.replace("<body>", "<body>" + head, 1), encoding="utf-8")
    return path
