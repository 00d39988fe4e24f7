"""Backtests with promtool on small synthetic incidents: the alert fires in time, stays silent on the
baseline, and a threshold 10x too loose misses the incident while 10x too tight fires on the baseline."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from exportkit import config, tool

import alerts
from alerts import Expected, Run
from dashboards import ExportConfig

EDGE = "web->api"
K = 30  # time scale of the SLO rules: 5m -> 10s (two 5 s scrapes), 3d -> 2h24m


def counter(rate: Callable[[float], float], seconds: float, interval: float) -> list[float | None]:
    """Cumulative counts sampled every ``interval`` for a per-second ``rate(t)``."""
    out: list[float | None] = [0.0]
    total = 0.0
    for i in range(1, int(seconds / interval) + 1):
        total += rate(i * interval) * interval
        out.append(round(total, 6))
    return out


def timeout_series(fault: tuple[float, float] | None) -> dict[str, list[float | None]]:
    """10 attempts/s; 2.5 % time out (half the 5 % threshold), 30 % during the fault."""

    def share(t: float) -> float:
        return 0.3 if fault and fault[0] <= t < fault[1] else 0.025

    length, step = 3600.0, 15.0
    timed_out = counter(lambda t: 10 * share(t), length, step)
    return {
        f'resilience_attempts_total{{name="{EDGE}", outcome="success"}}': counter(
            lambda t: 10 * (1 - share(t)), length, step
        ),
        f'resilience_attempts_total{{name="{EDGE}", outcome="timeout"}}': timed_out,
        f'resilience_timeouts_total{{name="{EDGE}", source="client", phase="attempt"}}': timed_out,
    }


def slo_series(fault: tuple[float, float] | None) -> dict[str, list[float | None]]:
    """100 requests/s; 0.05 % fail (half the 1x burn threshold of a 99.9 % SLO), 4 % during the fault."""

    def bad(t: float) -> float:
        return 0.04 if fault and fault[0] <= t < fault[1] else 0.0005

    length, step = 2400.0, 5.0
    good = counter(lambda t: 100 * (1 - bad(t)), length, step)
    hist = "resilience_request_duration_seconds"
    return {
        f'{hist}_bucket{{name="{EDGE}", result="success", le="1.0"}}': good,
        f'{hist}_count{{name="{EDGE}", result="success"}}': good,
        f'{hist}_count{{name="{EDGE}", result="failure"}}': counter(lambda t: 100 * bad(t), length, step),
    }


def promtool_test(tmp_path: Path, c: ExportConfig, runs: list[Run], scale: float | None) -> str:
    files = alerts.build(c, scale=scale)
    name = "rules.scaled.yml" if scale else "rules.yml"
    (tmp_path / name).write_text(files[name], encoding="utf-8")
    rules = yaml.safe_load(files[name])
    test = alerts.backtest(rules, name, runs, scale=scale)
    assert test["group_eval_order"] == [g["name"] for g in rules["groups"]]  # recording rules first
    (tmp_path / "tests.yml").write_text(alerts.dumps(test), encoding="utf-8")
    done = subprocess.run([tool("promtool"), "test", "rules", str(tmp_path / "tests.yml")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return ("PASS\n" if done.returncode == 0 else "FAIL\n") + done.stdout + done.stderr


def timeout_runs(c: ExportConfig) -> list[Run]:
    # bound: for + rate window + 2 scrape intervals
    bound = c.alert_for + c.rate_window + 2 * 15
    labels = {"name": EDGE, "source": "client"}
    incident = Expected("ResilienceTimeoutRateHigh", labels, 1800, 3600, bound)
    return [Run("timeouts-incident", timeout_series((1800, 3600)), 15, (incident,), 60),
            Run("timeouts-baseline", timeout_series(None), 15, (), 60)]  # fmt: skip


def slo_runs() -> list[Run]:
    # bound: no for; the page's long window (1h / K) fills with the fault, + 2 scrape intervals
    incident = Expected("ResilienceErrorBudgetBurnFast", {"name": EDGE}, 1200, 1800, 3600 / K + 2 * 5)
    return [Run("slo-incident", slo_series((1200, 1800)), 5, (incident,), 30),
            Run("slo-baseline", slo_series(None), 5, (), 30)]  # fmt: skip


def test_timeout_alert_fires_within_its_bound_and_is_silent_on_the_baseline(tmp_path: Path) -> None:
    out = promtool_test(tmp_path, config(), timeout_runs(config()), None)
    assert out.startswith("PASS"), out


@pytest.mark.parametrize(("ratio", "missing"), [(0.5, "incident"), (0.005, "baseline")])
def test_timeout_threshold_ten_times_off_fails_the_backtest(
    tmp_path: Path, ratio: float, missing: str
) -> None:
    out = promtool_test(tmp_path, config(timeout_ratio=ratio), timeout_runs(config()), None)
    assert out.startswith("FAIL") and "ResilienceTimeoutRateHigh" in out, out
    if missing == "incident":  # the loose rule never fires: promtool reports the expected alert missing
        assert "exp:" in out and "got:[]" in out.replace(" ", ""), out


def test_burn_rate_page_fires_within_its_bound_on_scaled_rules(tmp_path: Path) -> None:
    out = promtool_test(tmp_path, config(), slo_runs(), K)
    assert out.startswith("PASS"), out


@pytest.mark.parametrize(("target", "alert"), [(0.99, "ResilienceErrorBudgetBurnFast"),
                                               (0.9999, "ResilienceErrorBudgetBurnSlow")])  # fmt: skip
def test_slo_ten_times_off_fails_the_backtest(tmp_path: Path, target: float, alert: str) -> None:
    out = promtool_test(tmp_path, config(slo_target=target), slo_runs(), K)
    assert out.startswith("FAIL") and alert in out, out


def test_backtest_expectations_come_from_the_fault_window() -> None:
    rules = alerts.rule_groups(config())
    run = Run(
        "r",
        {"resilience_requests_total": [0.0] * 41},
        15,
        (Expected("ResilienceTimeoutRateHigh", {"name": EDGE, "source": "client"}, 300, 540, 120),),
        60,
    )
    test = alerts.backtest(rules, "rules.yml", [run])["tests"][0]["alert_rule_test"]
    checked = {(c["eval_time"], c["alertname"]): c["exp_alerts"] for c in test}
    assert (
        checked[("4m", "ResilienceTimeoutRateHigh")] == []
        and checked[("4m", "ResilienceBreakerFlapping")] == []
    )
    assert ("6m", "ResilienceTimeoutRateHigh") not in checked  # within the bound: not asserted
    firing = checked[("7m", "ResilienceTimeoutRateHigh")][0]
    assert firing["exp_labels"] == {"name": EDGE, "source": "client", "severity": "warning"}
    assert firing["exp_annotations"]["dashboard_url"].endswith("viewPanel=11&var-name=web-%3Eapi")
    assert ("7m", "ResilienceBreakerFlapping") not in checked  # the fault says nothing about it
    assert (
        alerts.backtest(rules, "rules.yml", [run], scale=30)["tests"][0]["name"]
        == "r (rule windows and for / 30)"
    )
    with pytest.raises(ValueError, match="'Nope' is not in the rules"):
        alerts.backtest(rules, "rules.yml", [Run("r", run.series, 15, (Expected("Nope", {}, 0, 1, 0),))])
