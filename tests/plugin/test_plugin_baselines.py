"""Baseline files through the plugin: missing, recorded by --rwb-update-baselines, compared, tolerances."""

from __future__ import annotations

import json
import statistics

import pytest
from plugin_support import direct_values, g, inner, project

pytest_plugins = ["pytester"]

TEST = """
from sim.testing import Tolerance

def test_flaky_matches_its_baseline(rwb):
    runs = rwb.run("flaky.toml")
    rwb.check_baseline(runs, "flaky", tolerance=Tolerance(abs=0.0, rel=0.02))
"""


def test_record_then_compare_then_catch_a_move_beyond_the_tolerance(pytester: pytest.Pytester) -> None:
    root = project(pytester)
    pytester.makeini("[pytest]\nrwb_seeds = 0..2\n")  # the ini form of --rwb-seeds
    pytester.makepyfile(TEST)
    path = root / "tests" / "baselines" / "flaky.json"

    missing = inner(pytester)
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*flaky-small: no baseline file *flaky.json; record it with*"])
    assert not path.exists()

    recorded = inner(pytester, "--rwb-update-baselines")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines([f"rwb: baseline written: {path}"])
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "rwb-baseline/1" and data["scenario"] == "flaky-small"
    assert data["seeds"] == [0, 1, 2]
    assert list(data["metrics"]) == [
        "success_ratio",
        "goodput_ratio",
        "amplification",
        "recovery_seconds",
        "latency_seconds.p99",
    ]
    amp = direct_values("amplification", (0, 1, 2))
    assert data["metrics"]["amplification"]["values"] == amp
    assert data["metrics"]["amplification"]["mean"] == pytest.approx(statistics.mean(amp), rel=1e-12)
    assert data["metrics"]["amplification"]["tolerance"] == {"abs": 0.0, "rel": 0.02}

    inner(pytester).assert_outcomes(passed=1)  # same code, same seeds: identical means

    # The recorded amplification is made 5% lower than the truth: beyond the 2% tolerance.
    then = statistics.mean(amp) / 1.05
    data["metrics"]["amplification"]["mean"] = then
    path.write_text(json.dumps(data), encoding="utf-8")
    moved = inner(pytester)
    moved.assert_outcomes(failed=1)
    now = statistics.mean(amp)
    text = moved.stdout.str().replace("\n", "")
    assert (
        f"flaky-small differs from its baseline {path} over seeds 0, 1, 2: amplification mean moved "
        f"from {g(then)} to {g(now)}, {now - then:+.4g} (+5.0%), beyond the allowed ±{0.02 * then:.4g} "
        f"(abs 0 + rel 0.02 * |{g(then)}|). The tolerances are in the file; if the change is intended, "
        "refresh it with `pytest --rwb-update-baselines`."
    ) in text
    assert "success_ratio" not in text.split("differs from its baseline")[1]  # only the moved metric

    # A tolerance edited by hand decides, and a refresh keeps it.
    data["metrics"]["amplification"]["tolerance"] = {"abs": 0.0, "rel": 0.06}
    path.write_text(json.dumps(data), encoding="utf-8")
    inner(pytester).assert_outcomes(passed=1)
    inner(pytester, "--rwb-update-baselines").assert_outcomes(passed=1)
    refreshed = json.loads(path.read_text(encoding="utf-8"))
    assert refreshed["metrics"]["amplification"]["tolerance"] == {"abs": 0.0, "rel": 0.06}
    assert refreshed["metrics"]["amplification"]["mean"] == pytest.approx(now, rel=1e-12)
    assert refreshed["metrics"]["success_ratio"]["tolerance"] == {"abs": 0.0, "rel": 0.02}


def test_other_seeds_or_a_changed_scenario_are_explained(pytester: pytest.Pytester) -> None:
    root = project(pytester)
    pytester.makepyfile(TEST)
    inner(pytester, "--rwb-seeds", "0..2", "--rwb-update-baselines").assert_outcomes(passed=1)
    path = root / "tests" / "baselines" / "flaky.json"

    other = inner(pytester, "--rwb-seeds", "1..3")
    other.assert_outcomes(failed=1)
    other.stdout.fnmatch_lines(
        ["*baseline * was recorded with seeds [[]0, 1, 2[]] but this run used [[]1, 2, 3[]]*"]
    )

    # A heavier load: the scenario's hash no longer matches, and the message says so.
    toml = root / "flaky.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("rate = 60.0", "rate = 90.0"), encoding="utf-8")
    changed = inner(pytester, "--rwb-seeds", "0..2")
    changed.assert_outcomes(failed=1)
    text = changed.stdout.str().replace("\n", "")
    assert "The scenario itself differs from the one recorded." in text
    assert json.loads(path.read_text(encoding="utf-8"))["seeds"] == [0, 1, 2]


def test_baselines_go_to_the_chosen_directory(pytester: pytest.Pytester) -> None:
    root = project(pytester)
    pytester.makepyfile(TEST)
    inner(pytester, "--rwb-seeds", "0,1", "--rwb-baselines", "regress", "--rwb-update-baselines")
    assert json.loads((root / "regress" / "flaky.json").read_text(encoding="utf-8"))["seeds"] == [0, 1]
    assert not (root / "tests" / "baselines").exists()
