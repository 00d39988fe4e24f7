"""Backtest data from simulated runs: series as ``alerts.Run`` and expected alerts from fault windows.

Expectations never come from evaluating the rules: an expected alert must fire
from ``fault start + bound`` to the fault's end on every edge the fault hits,
where the bound is stated per alert from the (scaled) rule durations:
``for + window + 2 scrape intervals``. The window is the rate window for ratio
alerts, none for gauges, the flapping window for flapping, and the long window
of the fastest pair for burn-rate alerts (the one that must fill with the fault).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from alerts import Expected, Run
from alerts.rules import BURN_ALERTS, SLO_WINDOWS
from dashboards import ExportConfig
from dashboards.promql import number
from sim.export.config import ExportError, fault_edges
from sim.scenario.spec import Scenario

__all__ = ["BACKTESTED", "NOT_BACKTESTED", "bound", "expected", "read_by", "scale_for", "to_run", "trim"]

BACKTESTED = (
    "BreakerStuckOpen",
    "BreakerFlapping",
    "RetryAmplificationHigh",
    "RetryBudgetExhausted",
    "TimeoutRateHigh",
    "LatencyP99AboveTimeoutBudget",
    "FallbackEngaged",
    "ErrorBudgetBurnFast",
    "ErrorBudgetBurnSlow",
)
"""Alert families (names without the prefix) the simulator emits the series of."""

NOT_BACKTESTED = ("AdmissionRejections",)
"""Alerts whose series the simulator does not emit yet: schema- and promtool-checked only."""

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+) (\S+)$")


def scale_for(config: ExportConfig, scrape_interval: float) -> float:
    """K: the factor that makes the shortest rule window (rate window, 5m) span 5 scrape intervals."""
    shortest = min(config.rate_window, SLO_WINDOWS[0][1])
    return float(max(1, math.floor(shortest / (5 * scrape_interval))))


def bound(config: ExportConfig, key: str, scale: float, scrape_interval: float) -> float:
    """Seconds after a fault starts by which alert ``key`` must fire: for + window + 2 scrapes (scaled)."""
    c = config
    windows: dict[str, tuple[float, float]] = {  # (for, window), unscaled seconds
        "BreakerStuckOpen": (c.stuck_open_after, 0.0),
        "BreakerFlapping": (0.0, c.flapping_window),
        "RetryAmplificationHigh": (c.alert_for, c.rate_window),
        "RetryBudgetExhausted": (c.alert_for, 0.0),
        "TimeoutRateHigh": (c.alert_for, c.rate_window),
        "LatencyP99AboveTimeoutBudget": (c.alert_for, c.rate_window),
        "FallbackEngaged": (c.alert_for, c.rate_window),
        "AdmissionRejections": (c.alert_for, c.rate_window),
    }
    secs = dict(SLO_WINDOWS)
    for name, _, pairs in BURN_ALERTS:
        windows[name] = (0.0, float(secs[pairs[0][1]]))
    if key not in windows:
        raise ExportError(f"expect={key!r}: unknown alert (known: {', '.join(windows)})")
    for_s, window = windows[key]
    return (for_s + window) / scale + 2 * scrape_interval


def expected(
    scenario: Scenario, config: ExportConfig, keys: Sequence[str], scale: float
) -> tuple[Expected, ...]:
    """One expectation per alert key, fault and edge the fault hits."""
    out = []
    for key in keys:
        b = bound(config, key, scale, scenario.scrape_interval)
        for fault in scenario.faults:
            if fault.duration <= b:
                raise ExportError(
                    f"expect={key!r}: the fault at {number(fault.start)} s lasts {number(fault.duration)} s,"
                    f" not longer than the alert's bound of {number(b)} s (for + window + 2 scrapes,"
                    " windows scaled): the backtest could not see it fire;"
                    " lengthen the fault or raise --scale"
                )
            for e in fault_edges(scenario, fault):
                labels = {"name": e, **({"source": "client"} if key == "TimeoutRateHigh" else {})}
                end = fault.start + fault.duration
                out.append(Expected(config.alert_prefix + key, labels, fault.start, end, b))
    return tuple(out)


_PRESENT = "rwb_run_present"  # a placeholder series no rule reads

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def read_by(rules: dict[str, Any], alerts: set[str]) -> set[str]:
    """Metric names the alerting rules ``alerts`` read, through the recording rules they use."""
    records = {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    todo = [r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") in alerts]
    names: set[str] = set()
    while todo:
        for word in _NAME.findall(re.sub(r'"(?:[^"\\]|\\.)*"', "", todo.pop())):
            if word in records and word not in names:
                todo.append(records[word])
            names.add(word)
    return names


def to_run(
    name: str,
    text: str,
    epoch: float,
    interval: float,
    expect: tuple[Expected, ...] = (),
    keep: set[str] | None = None,
) -> Run:
    """OpenMetrics text of a run as ``alerts.Run`` samples every ``interval`` s (off-grid scrapes dropped);
    ``keep``: only the series of these metric names (``_bucket``/``_count``/``_sum`` by their family)."""
    series: dict[str, dict[int, float]] = {}
    last = 0
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"{name}: not an OpenMetrics sample: {line!r}")
        metric, labels, value, ts = m.groups()
        k = (float(ts) - epoch) / interval
        i = round(k)
        if abs(k - i) > 1e-6:
            continue
        last = max(last, i)
        if keep is not None and metric not in keep:
            continue
        series.setdefault(metric + (labels or ""), {})[i] = float(value)
    if not series and last:  # the checked rules read nothing this run has: promtool still needs a series
        series[_PRESENT] = dict.fromkeys(range(last + 1), 1.0)
    samples: dict[str, list[float | None]] = {
        key: [points.get(i) for i in range(last + 1)] for key, points in series.items()
    }
    return Run(name, samples, interval, expect)


def trim(test: dict[str, Any], alerts: set[str], warmup: float = 0.0) -> dict[str, Any]:
    """A backtest file keeping only the checks of ``alerts`` (full names) at or after ``warmup`` seconds."""
    for t in test["tests"]:
        t["alert_rule_test"] = [
            c for c in t["alert_rule_test"] if c["alertname"] in alerts and _seconds(c["eval_time"]) >= warmup
        ]
    return test


def _seconds(text: str) -> float:
    units = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|d|h|m|s)", text))
