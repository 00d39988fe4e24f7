"""``rwb export``: the files it writes, tuned values reaching the artefacts unchanged (found by parsing
the PromQL), the export config's sources, and clear errors for bad input."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml

from sim.cli import main
from sim.cli.export import EXIT_BACKTEST, EXIT_TOOLS
from sim.export import NOT_BACKTESTED, export_config
from sim.scenario.loader import load_scenario

TUNED = """\
name = "tuned values"
duration = 30.0
warmup = 2.0
slo_latency = 0.3
scrape_interval = 1.0

[services.api]
workers = 4
service_time = { type = "exponential", mean = 0.01 }

[clients.web]
target = "api"
instances = 2
workload = { type = "poisson", rate = 20.0 }

[clients.web.retry]
max_attempts = 2
attempt_timeout = 0.1
timeout = 0.137

[clients.web.breaker]
failure_rate_threshold = 0.37
wait_in_open = 9.0
"""


def nodes(expr: Any) -> Iterator[Any]:
    """Every node of a parsed PromQL expression, depth first."""
    yield expr
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(expr, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            yield from nodes(child)
    for arg in getattr(expr, "args", None) or []:
        yield from nodes(arg)


def numbers(expr: str) -> list[float]:
    """The number literals of ``expr``, from its syntax tree (not from the text)."""
    return [
        n.val
        for n in nodes(pp.parse(expr.replace("$__rate_interval", "1m")))
        if isinstance(n, pp.NumberLiteral)
    ]


def thresholds(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [s["value"] for s in steps if s["value"] is not None]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    (root / "tuned.toml").write_text(TUNED, encoding="utf-8")
    argv = ["--seed", "3", "--set", "clients.web.breaker.wait_in_open=4.0"]
    assert main(["export", str(root / "tuned.toml"), "--out", str(root / "out"), *argv]) == 0
    return root / "out"


def test_export_writes_every_artefact(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = sorted(str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file())
    assert names == [
        "alerts/alertmanager.yml",
        "alerts/rules.scaled.yml",
        "alerts/rules.yml",
        "alerts/tests.yml",
        "dashboards/rwb-tuned-values-sim.json",
        "dashboards/rwb-tuned-values.json",
    ]
    tests = (exported / "alerts" / "tests.yml").read_text(encoding="utf-8")
    assert tests.startswith("# Backtest of rules.scaled.yml: every rule window and `for` divided by K=60.")
    data = yaml.safe_load(tests)
    assert data["rule_files"] == ["rules.scaled.yml"]
    # recording rules are evaluated before the alerts that read them, every time
    assert data["group_eval_order"] == ["tuned-values-slo-recording", "tuned-values-alerts"]
    (baseline,) = data["tests"]  # no --expect: the baseline's silence is checked, for every alert
    assert baseline["name"] == "tuned values-3-baseline (baseline: silent) (rule windows and for / 60)"
    assert {c["alertname"] for c in baseline["alert_rule_test"]} >= {"ResilienceTimeoutRateHigh"}
    assert all(c["exp_alerts"] == [] for c in baseline["alert_rule_test"])
    series = {s["series"] for s in baseline["input_series"]}
    assert any('name="web->api"' in s and 'run="tuned values-3-baseline"' in s for s in series)


def test_tuned_values_reach_dashboards_and_alerts_unchanged(exported: Path) -> None:
    board = json.loads((exported / "dashboards" / "rwb-tuned-values.json").read_text(encoding="utf-8"))
    panels = {p["title"]: p for p in board["panels"] if p["type"] != "row"}
    assert 0.37 in thresholds(panels["Breaker failure rate"])
    latency = [p for p in panels.values() if 0.137 in thresholds(p)]
    assert [p["title"] for p in latency] == ["Request latency p50 / p99"]
    rules = yaml.safe_load((exported / "alerts" / "rules.yml").read_text(encoding="utf-8"))
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert 0.137 in numbers(by_name["ResilienceLatencyP99AboveTimeoutBudget"]["expr"])
    # the stuck-open alert waits 3 x the breaker's open wait (4 s, set on the command line): 12 s
    assert by_name["ResilienceBreakerStuckOpen"]["for"] == "12s"
    # negative control: the untuned defaults are not what the artefacts carry
    assert 0.5 not in thresholds(panels["Breaker failure rate"])
    assert 1.0 not in numbers(by_name["ResilienceLatencyP99AboveTimeoutBudget"]["expr"])


def test_every_threshold_names_its_source() -> None:
    path = Path(__file__).parents[2] / "scenarios" / "retry_storm_resilient.toml"
    c = export_config(load_scenario(path))
    assert c.source("failure_rate_threshold") == "clients.web: BreakerConfig.failure_rate_threshold"
    assert c.source("max_open_wait") == "clients.web: BreakerConfig.wait_in_open x (1 + wait_jitter)"
    assert c.max_open_wait == pytest.approx(2.4)
    assert c.source("timeout") == "clients.web: RetryConfig.timeout" and c.timeout == 2.0
    assert c.amplification_bound == 1.2  # 1 + no_retry_increment 1 / retry_cost 5
    assert c.slo_latency == 0.5 and c.source("slo_latency") == "Scenario.slo_latency"
    assert c.edges == ("web->api",) and c.slug == "retry-storm-resilient"
    assert NOT_BACKTESTED == ("AdmissionRejections",)


def test_slo_latency_rounds_up_to_a_bucket_bound(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(TUNED, encoding="utf-8")
    c = export_config(load_scenario(p))
    assert c.slo_latency == 0.5
    assert c.source("slo_latency") == "Scenario.slo_latency=0.3 rounded up to the histogram bucket bound 0.5"


@pytest.mark.parametrize(
    ("change", "argv", "message"),
    [
        (("timeout = 0.137\n", ""), [], None),
        (("attempt_timeout = 0.1\n", ""), [], None),
        (("", ""), ["--slo-target", "1.5"], "argument --slo-target: must be a number in (0, 1), not '1.5'"),
        (("", ""), ["--expect", "Nope"], "argument --expect: invalid choice: 'Nope'"),
        (("", ""), ["--expect", "TimeoutRateHigh"], "the scenario has no faults"),
        (("", ""), ["--run-label", ""], "--run-label='': must be a non-empty string"),
        (("", ""), ["--grafana-url", "https://127.0.0.1:9"], "set the GRAFANA_TOKEN environment variable"),
        (("slo_latency = 0.3", "slo_latency = 30.0"), [], "slo_latency=30.0: must be <= 10.0"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: tuple[str, str],
    argv: list[str],
    message: str | None,
) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    p = tmp_path / "s.toml"
    text = TUNED.replace(*change) if change[0] else TUNED
    if message is None:  # both timeouts removed: nothing to hold the latency to
        text = text.replace("timeout = 0.137\n", "").replace("attempt_timeout = 0.1\n", "")
        message = "clients.web.retry.timeout=None: set timeout or attempt_timeout"
    p.write_text(text, encoding="utf-8")
    assert main(["export", str(p), "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out" / "alerts").exists()


def test_a_failing_backtest_exits_3_and_shows_promtool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the timeout budget is far below the service time: the baseline's p99 is above it, so the
    # latency alert fires on the healthy run and the backtest's silence check fails
    p = tmp_path / "s.toml"
    p.write_text(
        TUNED.replace("mean = 0.01", "mean = 0.2").replace("duration = 30.0", "duration = 20.0"), "utf-8"
    )
    assert main(["export", str(p), "--out", str(tmp_path / "out")]) == EXIT_BACKTEST
    err = capsys.readouterr().err
    assert "error: backtest failed" in err and "ResilienceLatencyP99AboveTimeoutBudget" in err
    assert (tmp_path / "out" / "alerts" / "tests.yml").is_file()  # kept for inspection


def test_preview_draws_every_panel_from_a_local_prometheus(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(TUNED, encoding="utf-8")
    assert main(["export", str(p), "--out", str(tmp_path / "out"), "--preview", "--epoch", "now"]) == 0
    page = (tmp_path / "out" / "preview.html").read_text(encoding="utf-8")
    board = json.loads((tmp_path / "out" / "dashboards" / "rwb-tuned-values-sim.json").read_text("utf-8"))
    titles = [p["title"] for p in board["panels"] if p["type"] != "row"]
    assert len(titles) > 10 and all(html.escape(t) in page for t in titles)
    assert "tuned values-1" in page  # the incident run is the one drawn


@pytest.mark.parametrize("tools", [(), ("promtool",)], ids=["no-promtool", "no-prometheus"])
def test_missing_tools_say_how_to_install_them(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tools: tuple[str, ...],
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    p = tmp_path / "s.toml"
    p.write_text(TUNED.replace("duration = 30.0", "duration = 10.0"), encoding="utf-8")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert main(["export", str(p), "--out", str(tmp_path / "out"), "--preview"]) == EXIT_TOOLS
    err = capsys.readouterr().err
    assert "make system-tools" in err and "apt-get install prometheus" in err and "Traceback" not in err, err
    assert ("promtool not found" in err) == (not tools)


def test_a_fault_shorter_than_the_alert_bound_is_an_error_not_a_vacuous_pass() -> None:
    """Otherwise the incident run gets no checks at all and promtool passes whatever the rules do."""
    import dataclasses

    from sim.export import ExportError
    from sim.export.backtest import bound, expected

    sc = load_scenario("scenarios/incidents/breaker_flapping.toml")
    c = export_config(sc, source="breaker_flapping.toml")
    scale = 60.0
    fault = sc.faults[0]
    b = bound(c, "RetryAmplificationHigh", scale, sc.scrape_interval)
    assert expected(dataclasses.replace(sc, faults=(dataclasses.replace(fault, duration=b + 1.0),)), c,
                    ["RetryAmplificationHigh"], scale)  # fmt: skip
    short = dataclasses.replace(sc, faults=(dataclasses.replace(fault, duration=b),))
    with pytest.raises(ExportError, match="not longer than the alert's bound"):
        expected(short, c, ["RetryAmplificationHigh"], scale)


def test_a_baseline_without_any_series_the_rules_read_is_still_a_silent_run() -> None:
    from sim.export.backtest import to_run

    text = "\n".join(f'resilience_requests_total{{name="a->b"}} {i} {100 + i}.000' for i in range(5))
    run = to_run("quiet", text + "\n# EOF\n", 100.0, 1.0, keep={"resilience_breaker_transitions_total"})
    assert run.length == 4.0
    assert not any(k.startswith("resilience_") for k in run.series)  # nothing the rules read was kept
