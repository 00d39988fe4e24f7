"""Compare: paired differences under common random numbers, intervals, warnings, the --fail-if gate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scipy import stats
from simcase import STORM_SMALL as SMALL

from sim import Scenario, load_scenario
from sim.cli import main
from sim.experiments.compare import compare, parse_fail_if
from sim.sweep import run_row

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [0, 1, 2, 3]


def pair() -> tuple[Scenario, Scenario]:
    a = load_scenario(ROOT / "scenarios/retry_storm.toml").with_(**SMALL)
    b = load_scenario(ROOT / "scenarios/retry_storm_resilient.toml").with_(**SMALL)
    return a, b


def test_paired_differences_and_their_interval() -> None:
    a, b = pair()
    with ThreadPoolExecutor(2) as ex:
        c = compare(a, b, SEEDS, executor=ex)
        rows_a = [run_row(a, s) for s in SEEDS]
        rows_b = [run_row(b, s) for s in SEEDS]
    assert c.warnings == []
    t = c.table.set_index("metric")
    for m in ("amplification", "success_ratio", "p99_after_fault"):
        d = [y[m] - x[m] for x, y in zip(rows_a, rows_b, strict=True)]
        mean = sum(d) / len(d)
        low, high = stats.t.interval(0.95, len(d) - 1, loc=mean, scale=stats.sem(d))
        assert t.loc[m, "diff_mean"] == pytest.approx(mean)
        assert (t.loc[m, "ci_low"], t.loc[m, "ci_high"]) == pytest.approx((low, high))
        assert t.loc[m, "n"] == len(SEEDS)
    # common random numbers: the same arrivals on both sides, so the request counts pair exactly
    assert t.loc["requests", "diff_mean"] == 0 and t.loc["requests", "ci_high"] == 0
    assert t.loc["amplification", "ci_high"] < 0  # the resilient side amplifies less, on every seed
    text = c.text()
    assert "common random numbers" in text and "95% interval of B - A" in text


def test_component_names_that_differ_are_warned_about() -> None:
    a, _ = pair()
    renamed = Scenario.from_dict(
        {**a.to_dict(), "clients": {"web2": a.to_dict()["clients"]["web"]}}, source="<renamed>"
    )
    with ThreadPoolExecutor(2) as ex:
        c = compare(a, renamed, [0, 1], executor=ex)
    assert len(c.warnings) == 1
    assert "only in A: clients.web; only in B: clients.web2" in c.warnings[0]
    assert "random streams are not shared" in c.warnings[0]
    # the negative control of CRN: with other stream names the arrivals are no longer the same
    assert c.table.set_index("metric").loc["requests", "diff_mean"] != 0


def test_fail_if_parsing() -> None:
    r = parse_fail_if("b.success_ratio<0.99")
    assert (r.side, r.metric, r.op, r.bound) == ("b", "success_ratio", "<", 0.99)
    r = parse_fail_if(" latency_p99 >= 1e-3 ")
    assert (r.side, r.metric, r.op, r.bound) == ("diff", "latency_p99", ">=", 0.001)
    with pytest.raises(ValueError, match=r"--fail-if='p99 ~ 3': must look like 'metric<bound'"):
        parse_fail_if("p99 ~ 3")


def test_rwb_compare_gate_exit_codes_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [x for k, v in SMALL.items() for x in ("--set", f"{k}={v}")]
    files = [str(ROOT / "scenarios/retry_storm.toml"), str(ROOT / "scenarios/retry_storm_resilient.toml")]
    html = tmp_path / "cmp.html"
    base = ["compare", *files, "--seeds", "0..1", "--workers", "2", *sets]
    rc = main([*base, "--html", str(html), "--fail-if", "amplification<0", "--fail-if", "b.amplification>9"])
    out, err = capsys.readouterr()
    assert rc == 3
    assert "failed: --fail-if 'amplification<0': amplification mean of B - A" in err
    assert "b.amplification>9" not in err  # the gate that holds is not reported
    assert "common random numbers" in out and "amplification" in out
    page = html.read_text()
    assert "retry-storm-naive (A) vs retry-storm-resilient (B)" in page and "simulated seconds" in page
    assert (
        page.count('"name":"A: retry-storm-naive"') == 4
        and page.count('"name":"B: retry-storm-resilient"') == 4
    )

    assert main([*base, "--fail-if", "amplification>0"]) == 0
    capsys.readouterr()
    assert main([*base, "--fail-if", "p99 ~ 3", "--set", "clients.web.retry.max_attempts=0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"error: {files[0]}: clients.web.retry.max_attempts=0: must be in 1..1000" in err
    assert (
        "error: --fail-if='p99 ~ 3': must look like 'metric<bound', 'b.metric>=bound' (ops < <= > >=)" in err
    )
