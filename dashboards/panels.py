"""What each dashboard panel shows: title, unit, description, queries, thresholds and place."""

from __future__ import annotations

from dataclasses import dataclass

from . import queries as q
from .config import ExportConfig
from .promql import Scope, number

__all__ = ["PANEL_IDS", "Panel", "Section", "layout", "sections"]

RATE = "$__rate_interval"
WIDTH, HEIGHT, COLUMNS = 12, 8, 2

PANEL_IDS: dict[str, int] = {
    "traffic": 1,
    "amplification": 2,
    "success_ratio": 3,
    "goodput": 4,
    "request_latency": 5,
    "attempt_latency": 6,
    "breaker_open": 7,
    "breaker_failure_rate": 8,
    "not_permitted": 9,
    "budget_tokens": 10,
    "timeouts": 11,
    "fallbacks": 12,
    "admission": 13,
    "slo_burn": 14,
}
"""Stable panel ids by key; alert links point at them (``viewPanel``)."""

ROW_IDS = {"Traffic": 101, "Latency": 102, "Breaker and budget": 103, "Timeouts, degradation, SLO": 104}


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: ``targets`` are (legend, expression); ``thresholds`` (value, color) above a base color."""

    key: str
    title: str
    description: str
    unit: str
    targets: tuple[tuple[str, str], ...]
    kind: str = "timeseries"
    base_color: str = "green"
    thresholds: tuple[tuple[float, str], ...] = ()
    max: float | None = None

    @property
    def id(self) -> int:
        return PANEL_IDS[self.key]


@dataclass(frozen=True, slots=True)
class Section:
    """A row heading and the panels under it."""

    title: str
    panels: tuple[Panel, ...]

    @property
    def id(self) -> int:
        return ROW_IDS[self.title]


def _src(c: ExportConfig, name: str) -> str:
    return f"{number(getattr(c, name))} ({c.source(name)})"


def sections(c: ExportConfig, s: Scope) -> tuple[Section, ...]:
    """The dashboard's rows and panels for ``c``, every selector carrying ``s``."""
    burn = f"({q.slo_error_ratio(s, RATE, c.slo_latency)}) / (1 - {number(c.slo_target)})"
    attempt_lines = () if c.attempt_timeout is None else ((c.attempt_timeout, "red"),)
    attempt_line = (
        "No attempt timeout is configured."
        if c.attempt_timeout is None
        else f"Red line: the attempt timeout, {_src(c, 'attempt_timeout')} s."
    )
    floor = () if c.budget_floor is None else ((c.budget_floor, "green"),)
    floor_text = (
        "No retry budget is configured."
        if c.budget_floor is None
        else f"Below {_src(c, 'budget_floor')} no retry is granted."
    )
    return (
        Section("Traffic", (
            Panel("traffic", "Request and attempt rate",
                  "Logical requests finished and attempts sent per second, per edge.", "reqps",
                  (("{{name}} requests", q.request_rate(s, RATE)),
                   ("{{name}} attempts", q.attempt_rate(s, RATE)))),
            Panel("amplification", "Retry amplification",
                  "Attempts per logical request (1 = no retries). Red line: the bound the retry budget "
                  f"sustains, {_src(c, 'amplification_bound')}.", "none",
                  (("{{name}}", q.amplification(s, RATE)),), thresholds=((c.amplification_bound, "red"),)),
            Panel("success_ratio", "Success ratio",
                  "Share of requests that succeeded; degraded (fallback) answers are not successes. "
                  f"Line: the SLO availability target, {_src(c, 'slo_target')}.", "percentunit",
                  (("{{name}}", q.success_ratio(s, RATE)),), base_color="red",
                  thresholds=((c.slo_target, "green"),), max=1.0),
            Panel("goodput", "Goodput", "Successful requests per second, per edge.", "reqps",
                  (("{{name}}", q.goodput(s, RATE)),)),
        )),
        Section("Latency", (
            Panel("request_latency", "Request latency p50 / p99",
                  "End-to-end request latency (retries and waits included) from the histogram. Red line: "
                  f"the request timeout budget ({c.latency_budget_field}), "
                  f"{_src(c, c.latency_budget_field)} s.", "s",
                  (("{{name}} p50", q.latency_quantile(s, RATE, 0.5)),
                   ("{{name}} p99", q.latency_quantile(s, RATE, 0.99))),
                  thresholds=((c.latency_budget, "red"),)),
            Panel("attempt_latency", "Attempt latency p50 / p99",
                  f"Latency of single attempts from the histogram. {attempt_line}", "s",
                  (("{{name}} p50", q.latency_quantile(s, RATE, 0.5, attempts=True)),
                   ("{{name}} p99", q.latency_quantile(s, RATE, 0.99, attempts=True))),
                  thresholds=attempt_lines),
        )),
        Section("Breaker and budget", (
            Panel("breaker_open", "Breaker state (fraction of instances open)",
                  "Fraction of client instances whose breaker is open, per edge (one process: 0 or 1). "
                  f"Red from {_src(c, 'open_fraction')}.", "percentunit",
                  (("{{name}}", q.open_fraction(s)),), kind="state-timeline",
                  thresholds=((c.open_fraction, "red"),), max=1.0),
            Panel("breaker_failure_rate", "Breaker failure rate",
                  "Failure rate over the breakers' windows, averaged over instances. Red line: the "
                  f"tuned failure-rate threshold, {_src(c, 'failure_rate_threshold')}.", "percentunit",
                  (("{{name}}", q.breaker_failure_rate(s)),),
                  thresholds=((c.failure_rate_threshold, "red"),), max=1.0),
            Panel("not_permitted", "Not-permitted calls",
                  "Calls the breaker refused per second (open or half-open without a free probe).", "reqps",
                  (("{{name}}", q.not_permitted(s, RATE)),)),
            Panel("budget_tokens", "Retry budget tokens",
                  f"Retry-budget tokens available, averaged over instances. {floor_text}", "short",
                  (("{{name}}", q.budget_tokens(s)),), base_color="red", thresholds=floor),
        )),
        Section("Timeouts, degradation, SLO", (
            Panel("timeouts", "Timeouts by source and phase",
                  "Timeouts fired per second, by source (client/gateway/backend) and phase.", "reqps",
                  (("{{name}} {{source}} {{phase}}", q.timeouts(s, RATE)),)),
            Panel("fallbacks", "Fallback tier usage",
                  "Answers served per second by each fallback tier instead of the primary.", "reqps",
                  (("{{name}} {{tier}}", q.fallbacks(s, RATE)),)),
            Panel("admission", "Admission rejections",
                  "Calls refused by admission control per second, by cause.", "reqps",
                  (("{{name}} {{cause}}", q.admission_rejections(s, RATE)),)),
            Panel("slo_burn", "SLO error-budget burn rate",
                  f"Bad requests (not a success, or slower than {_src(c, 'slo_latency')} s) over the error "
                  f"budget 1 - {_src(c, 'slo_target')}. 1 spends the budget exactly over the SLO period; "
                  "lines at the multi-window alert rates 1, 3, 6 and 14.4.", "none",
                  (("{{name}}", burn),),
                  thresholds=((1.0, "yellow"), (3.0, "orange"), (6.0, "red"), (14.4, "purple"))),
        )),
    )  # fmt: skip


def layout(rows: tuple[Section, ...]) -> list[tuple[int, int, int, int, int]]:
    """``(id, x, y, w, h)`` for every row heading and panel, top to bottom, two panels a line."""
    out: list[tuple[int, int, int, int, int]] = []
    y = 0
    for row in rows:
        out.append((row.id, 0, y, 24, 1))
        y += 1
        for i, panel in enumerate(row.panels):
            out.append((panel.id, (i % COLUMNS) * WIDTH, y + (i // COLUMNS) * HEIGHT, WIDTH, HEIGHT))
        y += -(-len(row.panels) // COLUMNS) * HEIGHT
    return out
