"""The exported alerts on simulated incidents (scenarios/incidents/): each family fires during its
incident within the stated bound and stays silent on the healthy baseline (promtool test rules);
a threshold 10x too loose misses the incident, 10x too tight fires on the baseline."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import ExportConfig
from sim.export import BACKTESTED, Runs, export_config, simulate, write
from sim.export.backtest import bound
from sim.scenario.loader import load_scenario

INCIDENTS = Path(__file__).parents[2] / "scenarios" / "incidents"
FAMILIES = {
    "timeouts": "TimeoutRateHigh",
    "latency": "LatencyP99AboveTimeoutBudget",
    "retry_amplification": "RetryAmplificationHigh",
    "retry_budget": "RetryBudgetExhausted",
    "fallback": "FallbackEngaged",
    "breaker_outage": "BreakerStuckOpen",
    "breaker_flapping": "BreakerFlapping",
    "slo_fast": "ErrorBudgetBurnFast",
    "slo_slow": "ErrorBudgetBurnSlow",
}
SCALE = {"slo_slow": 1440.0}  # its 1d/3d windows must fit a 200 s run: 1d -> 60 s, 2h -> 5 s


def mistuned(c: ExportConfig, key: str, loose: bool) -> ExportConfig:
    """``c`` with the threshold of alert ``key`` 10x too loose (or too tight)."""
    f = 10.0 if loose else 0.1
    r = dataclasses.replace
    if key == "TimeoutRateHigh":
        return r(c, timeout_ratio=min(1.0, c.timeout_ratio * f))
    if key == "FallbackEngaged":
        return r(c, fallback_ratio=min(1.0, c.fallback_ratio * f))
    if key == "LatencyP99AboveTimeoutBudget":
        return r(c, **{c.latency_budget_field: c.latency_budget * f})
    if key == "RetryAmplificationHigh":  # the bound is >= 1: scale it loose, its excess over 1 tight
        return r(
            c, amplification_bound=c.amplification_bound * f if loose else 1 + (c.amplification_bound - 1) * f
        )
    if key == "RetryBudgetExhausted":  # fires below the floor: a lower floor is looser
        assert c.budget_floor is not None
        return r(c, budget_floor=c.budget_floor / f)
    if key == "BreakerStuckOpen":  # loose: open 10x longer before it fires; tight: 10x fewer instances open
        return (
            r(c, open_wait_multiple=c.open_wait_multiple * f)
            if loose
            else r(c, open_fraction=c.open_fraction * f)
        )
    if (
        key == "BreakerFlapping"
    ):  # loose: 10x more cycles; tight: one cycle (the least) in a 10x longer window
        if loose:
            return r(c, flapping_cycles=c.flapping_cycles * 10)
        return r(c, flapping_cycles=1, flapping_window=c.flapping_window * 10)
    return r(c, slo_target=1 - (1 - c.slo_target) * f)  # the burn rates: an error budget 10x too big/small


_runs: dict[str, Runs] = {}


def runs(name: str) -> Runs:
    if name not in _runs:
        _runs[name] = simulate(load_scenario(INCIDENTS / f"{name}.toml"), 1)
    return _runs[name]


def backtest(
    tmp_path: Path, name: str, config: ExportConfig | None = None
) -> tuple[bool, str, dict[str, Any]]:
    """Export the rules of ``config`` (default: the tuned one), run promtool; bounds stay the tuned ones."""
    r = runs(name)
    tuned = export_config(r.scenario)
    e = write(r, tmp_path, config=config or tuned, expect=[FAMILIES[name]], scale=SCALE.get(name),
              bounds_from=tuned)  # fmt: skip
    return e.passed, e.promtool_output, yaml.safe_load((tmp_path / "alerts" / "tests.yml").read_text("utf-8"))


def test_every_family_the_simulator_emits_has_an_incident() -> None:
    assert sorted(FAMILIES.values()) == sorted(BACKTESTED)
    assert sorted(p.stem for p in INCIDENTS.glob("*.toml")) == sorted(FAMILIES)
    for name, key in FAMILIES.items():  # each file states what it expects
        assert f"# Expected alerts: {key}" in (INCIDENTS / f"{name}.toml").read_text("utf-8")


@pytest.mark.parametrize("name", FAMILIES)
def test_alert_fires_within_its_bound_and_stays_silent_on_the_baseline(tmp_path: Path, name: str) -> None:
    passed, output, test = backtest(tmp_path, name)
    assert passed, output
    alert = "Resilience" + FAMILIES[name]
    incident, baseline = test["tests"]
    fault = runs(name).scenario.faults[0]
    c = export_config(runs(name).scenario)
    k = SCALE.get(name, 60.0)
    b = bound(c, FAMILIES[name], k, 1.0)
    firing = [_seconds(x["eval_time"]) for x in incident["alert_rule_test"] if x["exp_alerts"]]
    silent = [_seconds(x["eval_time"]) for x in incident["alert_rule_test"] if not x["exp_alerts"]]
    # checked to fire from fault start + bound to its end, checked silent before the fault
    assert firing and min(firing) >= fault.start + b and max(firing) <= fault.start + fault.duration
    assert min(firing) - (fault.start + b) < 4 and silent and max(silent) < fault.start
    assert {x["alertname"] for x in incident["alert_rule_test"] + baseline["alert_rule_test"]} == {alert}
    assert baseline["alert_rule_test"] and all(x["exp_alerts"] == [] for x in baseline["alert_rule_test"])
    assert b < fault.duration / 1.2  # the bound leaves most of the fault window checked


@pytest.mark.parametrize(
    "loose", [True, False], ids=["10x-loose-misses-incident", "10x-tight-fires-on-baseline"]
)
@pytest.mark.parametrize("name", FAMILIES)
def test_mistuned_threshold_fails_the_backtest(tmp_path: Path, name: str, loose: bool) -> None:
    r = runs(name)
    passed, output, _ = backtest(tmp_path, name, mistuned(export_config(r.scenario), FAMILIES[name], loose))
    assert not passed, output
    failures = _failures(output)
    assert failures and all(a == "Resilience" + FAMILIES[name] for _, a, _, _ in failures)
    if loose:  # the incident's expected alert never fires
        assert any(run.endswith("(incident)") and exp and not got for run, _, exp, got in failures), output
    else:  # it fires on the healthy baseline
        assert any(run.endswith("(baseline: silent)") and got and not exp for run, _, exp, got in failures), (
            output
        )


_FAILURE = re.compile(
    r"name: (.*?) \(rule windows.*?\n\s*alertname: (\S+), time: \S+,\s*\n"
    r"\s*exp:\[(.*?)\],\s*\n\s*got:\[(.*?)\]",
    re.S,
)


def _failures(output: str) -> list[tuple[str, str, bool, bool]]:
    """(run, alert, expected non-empty, got non-empty) of each failed check in promtool's report."""
    return [(m[0], m[1], bool(m[2].strip()), bool(m[3].strip())) for m in _FAILURE.findall(output)]


def _seconds(text: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", text))
