"""Tune: a seeded TPE study is deterministic, resumes from its storage, and writes a loadable scenario."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from simcase import STORM_SMALL as SMALL

from sim import Scenario, load_scenario
from sim.experiments.tune import AMPLIFICATION_MAX, OBJECTIVE, SUCCESS_MIN, load_space, space_from_dict, tune
from sim.scenario.loader import ScenarioError
from sim.sweep import run_row

ROOT = Path(__file__).resolve().parents[2]
SPACE = {
    "set": {"clients.web.retry.backoff": {"type": "exponential", "jitter": {"type": "full"}}},
    "params": {
        "clients.web.retry.max_attempts": {"int": [1, 4]},
        "clients.web.retry.timeout": {"float": [0.5, 6.0], "log": True},
        "clients.web.retry.backoff.base": {"float": [0.001, 0.3], "log": True},
    },
}
SEEDS = (0, 1)


class Counting:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, scenario: Scenario, seed: int) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
        return run_row(scenario, seed)


def base() -> Scenario:
    return load_scenario(ROOT / "scenarios/retry_storm.toml").with_(**SMALL)


def study(seed: int, trials: int = 4, storage: Path | None = None, run: Any = run_row) -> Any:
    with ThreadPoolExecutor(2) as ex:
        return tune(
            base(), space_from_dict(SPACE), trials, seed=seed, seeds=SEEDS, executor=ex,
            progress=False, storage=storage, run=run, startup_trials=2,
        )  # fmt: skip


def test_a_seeded_study_is_deterministic_and_its_best_is_feasible(tmp_path: Path) -> None:
    first, second, other = study(7), study(7), study(8, trials=2)
    cols = ["trial", *SPACE["params"], OBJECTIVE, "success_ratio", "amplification", "feasible"]
    assert first.evidence[cols].equals(second.evidence[cols])
    params = [*SPACE["params"]]
    assert not first.evidence[params][:2].equals(other.evidence[params])  # the sampler's seed matters
    assert len(first.evidence) == 4 and len(first.runs) == 4 * len(SEEDS)
    # feasibility recomputed from the per-seed runs, not taken from the study
    per = first.runs.groupby("trial")[["success_ratio", "amplification", OBJECTIVE]].mean()
    ok = (per["success_ratio"] >= SUCCESS_MIN) & (per["amplification"] <= AMPLIFICATION_MAX)
    assert ok.tolist() == first.evidence.set_index("trial")["feasible"].tolist()
    if ok.any():
        assert first.best_value == pytest.approx(per[ok][OBJECTIVE].min())
        assert first.scenario is not None
        path = tmp_path / "tuned.toml"
        path.write_text(first.scenario_toml())
        assert load_scenario(path) == first.scenario
        for k, v in (first.best or {}).items():
            assert first.scenario.parameters(defaults=True)[k] == v
    else:
        assert first.best is None and first.scenario is None


def test_a_study_in_storage_resumes_with_only_the_missing_trials(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    first = Counting()
    study(3, trials=2, storage=db, run=first)
    assert first.calls == 2 * len(SEEDS)
    resumed = Counting()
    result = study(3, trials=3, storage=db, run=resumed)
    assert resumed.calls == 1 * len(SEEDS)  # one new trial, the two stored ones not run again
    assert result.evidence["trial"].tolist() == [0, 1, 2]


def test_space_errors_name_file_path_and_rule(tmp_path: Path) -> None:
    f = tmp_path / "space.toml"
    f.write_text('[params."clients.web.retry.max_attempts"]\nint = [5, 1]\n')
    with pytest.raises(ScenarioError) as e:
        load_space(f)
    assert e.value.line == f"{f}: params.clients.web.retry.max_attempts.int=[5, 1]: low must be < high"
    with pytest.raises(
        ScenarioError, match=r"<space>: params.x.float=\[0, 1\]: low must be > 0 with log = true"
    ):
        space_from_dict({"params": {"x": {"float": [0, 1], "log": True}}})
    flagship = load_space(ROOT / "scenarios/spaces/retry_storm.toml")
    assert len(flagship.params) >= 8 and "clients.web.breaker" in flagship.fixed


def test_rwb_tune_reports_bad_input_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli import main

    space = tmp_path / "space.toml"
    space.write_text('[set]\n"clients.web.breaker.wait_in_open" = 2.0\n[params.x]\nfloat = [1, 2]\n')
    rc = main(
        [
            "tune",
            str(ROOT / "scenarios/retry_storm.toml"),
            "--space",
            str(space),
            "--out",
            "/nonexistent/t.toml",
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err.splitlines()
    assert "error: --out='/nonexistent/t.toml': directory '/nonexistent' does not exist" in err
    assert any(
        line.startswith(f"error: {space}: [set]: clients.web.breaker.wait_in_open=2.0: table") for line in err
    )
