"""Rules and Alertmanager config: the real tools accept them, names and links follow the rules."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from exportkit import config, panels, selectors, tool

import alerts
import dashboards
from alerts.alertmanager import receiver
from resilience.metrics.catalog import CATALOG

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("RWB_UPDATE_GOLDEN") == "1"
CONFIG = config()
FILES = alerts.build(CONFIG, scale=60)
RULES = yaml.safe_load(FILES["rules.yml"])
ALERTS = [r for g in RULES["groups"] for r in g["rules"] if "alert" in r]


def write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text(FILES[name], encoding="utf-8")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["rules.yml", "rules.scaled.yml"])
def test_promtool_checks_the_rules(tmp_path: Path, name: str) -> None:
    done = run(tool("promtool"), "check", "rules", str(write(tmp_path, name)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS) + 7} rules found" in done.stdout


def test_every_family_is_there_with_names_severities_and_annotations() -> None:
    names = [a["alert"] for a in ALERTS]
    families = ["BreakerStuckOpen", "BreakerFlapping", "RetryAmplificationHigh", "RetryBudgetExhausted",
                "TimeoutRateHigh", "LatencyP99AboveTimeoutBudget", "FallbackEngaged", "AdmissionRejections",
                "ErrorBudgetBurnFast", "ErrorBudgetBurnSlow"]  # fmt: skip
    assert sorted(names) == sorted("Resilience" + f for f in families)
    board = dashboards.build(CONFIG)["rwb-resilience.json"]
    ids = {p["id"] for p in panels(board)}
    for a in ALERTS:
        assert re.fullmatch(r"Resilience([A-Z][a-z0-9]*)+", a["alert"]), a["alert"]
        assert a["labels"]["severity"] in ("critical", "warning")
        assert set(a["annotations"]) == {"summary", "description", "runbook_url", "dashboard_url"}
        url = a["annotations"]["dashboard_url"]
        m = re.fullmatch(r"http://localhost:3000/d/(.+?)/resilience\?viewPanel=(\d+)&var-name=.+", url)
        assert m and m.group(1) == board["uid"] and int(m.group(2)) in ids, url
    severity = {a["alert"]: a["labels"]["severity"] for a in ALERTS}
    assert severity["ResilienceErrorBudgetBurnFast"] == "critical"
    assert severity["ResilienceErrorBudgetBurnSlow"] == "warning"


def test_burn_rate_alerts_use_the_workbook_windows_through_recording_rules() -> None:
    records = {r["record"]: r["expr"] for r in RULES["groups"][0]["rules"]}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"[{window}]" in records[f"name:resilience_slo_errors:ratio_rate{window}"]
    fast = next(a for a in ALERTS if a["alert"] == "ResilienceErrorBudgetBurnFast")["expr"]
    used = sorted({s.name for s in selectors(fast)})
    assert used == [f"name:resilience_slo_errors:ratio_rate{w}" for w in ("1h", "30m", "5m", "6h")]


def test_every_metric_in_a_rule_is_in_the_catalog() -> None:
    records = {r["record"] for r in RULES["groups"][0]["rules"]}
    for group in RULES["groups"]:
        for rule in group["rules"]:
            for sel in selectors(rule["expr"]):
                base = re.sub(r"_(bucket|count|sum)$", "", sel.name)
                assert sel.name in CATALOG or base in CATALOG or sel.name in records, sel.name


def test_rules_and_alertmanager_match_the_golden_files() -> None:
    for name in ("rules.yml", "rules.scaled.yml", "alertmanager.yml"):
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            (GOLDEN / name).write_text(FILES[name], encoding="utf-8")
        assert FILES[name] == (GOLDEN / name).read_text(encoding="utf-8"), f"{name}: RWB_UPDATE_GOLDEN=1"
    assert list(yaml.safe_load(FILES["alertmanager.yml"])) == ["inhibit_rules", "receivers", "route"]


def test_amtool_checks_the_alertmanager_config(tmp_path: Path) -> None:
    done = run(tool("amtool"), "check-config", str(write(tmp_path, "alertmanager.yml")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 inhibit rules" in done.stdout and "2 receivers" in done.stdout


def routes_test(path: Path, expected: str, labels: dict[str, str]) -> subprocess.CompletedProcess[str]:
    pairs = [f"{k}={v}" for k, v in labels.items()]
    return run(tool("amtool"), "config", "routes", "test", f"--config.file={path}",
               f"--verify.receivers={expected}", *pairs)  # fmt: skip


@pytest.mark.parametrize("alert", [a["alert"] for a in ALERTS])
def test_each_alert_routes_to_its_severity_receiver(tmp_path: Path, alert: str) -> None:
    path = write(tmp_path, "alertmanager.yml")
    rule: dict[str, Any] = next(a for a in ALERTS if a["alert"] == alert)
    severity = rule["labels"]["severity"]
    labels = {"alertname": alert, "name": "web->api", "severity": severity}
    done = routes_test(path, receiver(CONFIG, severity), labels)
    assert done.returncode == 0, done.stdout + done.stderr
    other = "warning" if severity == "critical" else "critical"
    assert routes_test(path, receiver(CONFIG, other), labels).returncode != 0
