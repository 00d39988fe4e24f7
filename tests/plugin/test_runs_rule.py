"""The interval rule on hand-made summaries, checked against textbook Student-t values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.testing import Runs, Tolerance
from sim.testing.baselines import read_baseline
from sim.testing.session import parse_seeds

T_975_2 = 4.302653  # t(0.975, 2 degrees of freedom), from a printed table


def runs_of(metric: str, values: list[float | None]) -> Runs:
    summaries: list[dict[str, Any]] = [{metric: v, "latency_seconds": {"p99": v}} for v in values]
    return Runs("made-up", [10, 11, 12][: len(values)], summaries)


def test_the_interval_is_the_student_t_interval_of_the_mean() -> None:
    # values 1, 2, 3: mean 2, s = 1, n = 3 -> 2 ± 4.3027 / sqrt(3)
    iv = runs_of("amplification", [1.0, 2.0, 3.0]).interval("amplification")
    half = T_975_2 / 3**0.5
    assert iv.mean == pytest.approx(2.0)
    assert (iv.low, iv.high) == pytest.approx((2.0 - half, 2.0 + half), abs=1e-5)


def test_a_lower_bound_passes_only_below_the_interval() -> None:
    runs = runs_of("success_ratio", [1.0, 2.0, 3.0])
    low = 2.0 - T_975_2 / 3**0.5  # -0.4841
    runs.assert_success_ratio_above(low - 0.001)
    with pytest.raises(AssertionError) as e:
        runs.assert_success_ratio_above(low + 0.001)
    assert str(e.value) == (
        "made-up: success ratio must lie at or above -0.4831 over seeds 10, 11, 12, and although the mean 2 "
        "is on the right side, its 95% interval [-0.4841, 4.484] crosses the bound (lower end -0.4841): the "
        "seeds do not establish it; add seeds or leave more margin; per-seed values: 10: 1, 11: 2, 12: 3."
    )
    with pytest.raises(AssertionError, match="but its mean is 2 with 95% interval"):
        runs.assert_success_ratio_above(2.5)


def test_an_upper_bound_passes_only_above_the_interval() -> None:
    runs = runs_of("amplification", [1.0, 2.0, 3.0])
    high = 2.0 + T_975_2 / 3**0.5  # 4.4842
    runs.assert_amplification_below(high + 0.001)
    with pytest.raises(AssertionError, match=r"crosses the bound \(upper end 4.484\)"):
        runs.assert_amplification_below(high - 0.001)
    runs_of("latency", [0.1, 0.1, 0.1]).assert_p99_below(0.1)  # no spread: the interval is the mean
    with pytest.raises(AssertionError, match=r"p99 latency \(s\) must lie at or below 0.09"):
        runs_of("latency", [0.1, 0.1, 0.1]).assert_p99_below(0.09)


def test_never_recovering_on_one_seed_fails_the_recovery_bound() -> None:
    runs = runs_of("recovery_seconds", [1.0, None, 2.0])
    with pytest.raises(AssertionError) as e:
        runs.assert_recovers_within(100.0)
    assert str(e.value) == (
        "made-up: recovery time (s) must lie at or below 100 over seeds 10, 11, 12, but it never recovered "
        "on seeds 11 (recovery_seconds is null there), so no mean can be judged; "
        "per-seed values: 10: 1, 11: null, 12: 2."
    )
    runs_of("recovery_seconds", [1.0, 1.0, 2.0]).assert_recovers_within(4.0)


def test_one_seed_cannot_make_an_interval() -> None:
    with pytest.raises(ValueError, match="needs at least 2 seeds, got 1"):
        runs_of("amplification", [1.0]).assert_amplification_below(2.0)


def test_unknown_metrics_are_named() -> None:
    with pytest.raises(KeyError, match=r"metric='latency_seconds\.p98': no such key"):
        runs_of("amplification", [1.0, 2.0]).values("latency_seconds.p98")


@pytest.mark.parametrize(
    ("text", "seeds"), [("0..4", (0, 1, 2, 3, 4)), ("7,3", (7, 3)), ("10..11", (10, 11))]
)
def test_seed_lists(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["5", "3..3", "a..b", "1,1", "", "-1..2"])
def test_bad_seed_lists_are_refused_with_the_rule(text: str) -> None:
    with pytest.raises(ValueError, match=rf"^--rwb-seeds={text}: expected A..B \(inclusive\)"):
        parse_seeds(text)


def test_bad_baseline_files_name_the_field(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    good = {"format": "rwb-baseline/1", "seeds": [0, 1], "metrics": {"amplification": {"mean": 1.0}}}
    p.write_text(json.dumps(good))
    assert read_baseline(p)["seeds"] == [0, 1]
    bad = {**good, "metrics": {"amplification": {"mean": 1.0, "tolerance": {"rel": -1}}}}
    p.write_text(json.dumps(bad))
    with pytest.raises(
        ValueError, match=rf"^{p}: metrics.amplification.tolerance.rel=-1: must be a number >= 0$"
    ):
        read_baseline(p)
    p.write_text(json.dumps({**good, "format": "v0"}))
    with pytest.raises(ValueError, match=rf"^{p}: format='v0': must be 'rwb-baseline/1'$"):
        read_baseline(p)
    with pytest.raises(ValueError, match=r"^Tolerance.rel=-0.1: must be a finite number >= 0$"):
        Tolerance(rel=-0.1)


@pytest.mark.parametrize("seeds", [[3], [1, 1]])
def test_a_run_needs_two_distinct_seeds(seeds: list[int], tmp_path: Path) -> None:
    from sim.testing import Regression

    reg = Regression(tmp_path, (0, 1), tmp_path)
    with pytest.raises(
        ValueError, match=r"^seeds=\[.*\]: an interval of the mean needs at least 2 distinct seeds$"
    ):
        reg.run(tmp_path / "never-read.toml", seeds=seeds)
