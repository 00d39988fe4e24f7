"""``promtool test rules`` files from plain series data and the fault windows of the runs.

Expectations never come from evaluating the rules: an alert must fire from
``start + bound`` until ``end`` of its fault window and stay silent before the
fault; a run without faults (the healthy baseline) must keep every alert
silent. Around the fault edges (start to start + bound, after end) nothing is
asserted for the alerts that fault expects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from dashboards.promql import duration, number

from .rules import alert_names

__all__ = ["Expected", "Run", "backtest", "render_annotation"]

_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*(\|\s*urlquery\s*)?\}\}")


@dataclass(frozen=True, slots=True)
class Expected:
    """Alert ``alert`` (full name) with ``labels`` must fire from ``start + bound`` to ``end`` (seconds)."""

    alert: str
    labels: Mapping[str, str]
    start: float
    end: float
    bound: float

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end or not self.bound >= 0:
            raise ValueError(f"Expected({self.alert}): needs 0 <= start < end and bound >= 0")


@dataclass(frozen=True, slots=True)
class Run:
    """One run's series: ``'metric{label="v"}'`` -> samples every ``interval`` s from 0 (None: missing)."""

    name: str
    series: Mapping[str, Sequence[float | None]]
    interval: float
    expected: tuple[Expected, ...] = ()
    check_every: float | None = None  # spacing of the checked times; default 4 intervals
    length: float = field(init=False)

    def __post_init__(self) -> None:
        n = max((len(v) for v in self.series.values()), default=0)
        if n < 2 or not self.interval > 0:
            raise ValueError(f"Run({self.name}): needs series of 2+ samples and an interval > 0")
        object.__setattr__(self, "length", (n - 1) * self.interval)


def render_annotation(template: str, labels: Mapping[str, str]) -> str:
    """An annotation as Prometheus renders it, for templates using only ``$labels.x`` (``| urlquery``)."""

    def one(m: re.Match[str]) -> str:
        value = labels.get(m.group(1), "")
        return quote_plus(value, safe="") if m.group(2) else value

    out = _TEMPLATE.sub(one, template)
    if "{{" in out:
        raise ValueError(f"annotation template beyond $labels: {template!r}")
    return out


def _values(samples: Sequence[float | None]) -> str:
    return " ".join("_" if v is None else number(v) for v in samples)


def _checks(run: Run, names: list[str], rules: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    step = run.check_every if run.check_every is not None else 4 * run.interval
    first = min((e.start for e in run.expected), default=float("inf"))
    out: list[dict[str, Any]] = []
    k = 1
    while k * step <= run.length + 1e-9:
        t = round(k * step, 3)
        k += 1
        for name in names:
            mine = [e for e in run.expected if e.alert == name]
            if t < first:
                firing: list[Expected] = []
            elif mine and all(t < e.start or e.start + e.bound <= t <= e.end for e in mine):
                firing = [e for e in mine if e.start + e.bound <= t <= e.end]
            elif not run.expected:
                firing = []
            else:
                continue  # a fault edge, or an alert this fault does not speak about
            exp = []
            for e in firing:
                labels = {**rules[name].get("labels", {}), **e.labels}
                notes = {
                    k: render_annotation(v, labels) for k, v in rules[name].get("annotations", {}).items()
                }
                exp.append({"exp_labels": labels, "exp_annotations": notes})
            out.append({"eval_time": duration(t), "alertname": name, "exp_alerts": exp})
    return out


def backtest(
    rules: Mapping[str, Any], rule_file: str, runs: Sequence[Run], *, scale: float | None = None
) -> dict[str, Any]:
    """A ``promtool test rules`` file (as a dict) checking ``rules`` (stored at ``rule_file``) on ``runs``.

    ``scale``: the factor the rules' windows and ``for`` were divided by, stated in each test's name.
    """
    names = alert_names(dict(rules))
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    unknown = sorted({e.alert for run in runs for e in run.expected} - set(names))
    if unknown:
        raise ValueError(f"expected alert {unknown[0]!r} is not in the rules")
    tests = []
    for run in runs:
        tests.append({
            "name": run.name if scale is None else f"{run.name} (rule windows and for / {number(scale)})",
            "interval": duration(run.interval),
            "input_series": [{"series": s, "values": _values(v)} for s, v in sorted(run.series.items())],
            "alert_rule_test": _checks(run, names, by_name),
        })  # fmt: skip
    interval = min(run.interval for run in runs)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": duration(interval),
        # the file's group order, recording rules first: promtool's default order is random
        "group_eval_order": [g["name"] for g in rules["groups"]],
        "tests": tests,
    }
