"""Sweeps: parameters as columns, grid files, Dask workers vs the local pool, checkpoint and resume."""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from simcase import STORM_SMALL as SMALL

from sim import Scenario, load_scenario, run_many
from sim.cli import main
from sim.experiments.grid import load_grid, sweep
from sim.scenario.loader import ScenarioError
from sim.sweep import run_key, run_row

ROOT = Path(__file__).resolve().parents[2]
GRID = {"clients.web.retry.max_attempts": [1, 3], "clients.web.retry.backoff.base": [0.0, 0.02]}
METRICS = [
    "requests",
    "attempts",
    "successes",
    "success_ratio",
    "amplification",
    "latency_p99",
    "p99_after_fault",
]


def small() -> Scenario:
    return load_scenario(ROOT / "scenarios/retry_storm.toml").with_(**SMALL)


def test_run_many_rows_carry_the_parameters_that_differ() -> None:
    a = small()
    b = a.with_(**{"clients.web.retry.max_attempts": 2, "name": "b"})
    with ThreadPoolExecutor(2) as ex:
        df = run_many([a, b], seeds=[0], executor=ex)
    assert df["clients.web.retry.max_attempts"].tolist() == [5, 2]
    assert "name" not in df.columns and "duration" not in df.columns  # equal on both sides
    assert df["scenario"].tolist() == ["retry-storm-naive", "b"]
    assert df.loc[1, "amplification"] <= 2.0 < df.loc[0, "amplification"]


def test_run_key_names_scenario_seed_and_version() -> None:
    sc = small()
    key = run_key(sc, 1, "1.0")
    assert key == run_key(small(), 1, "1.0")
    assert (
        len({key, run_key(sc, 2, "1.0"), run_key(sc, 1, "1.1"), run_key(sc.with_(duration=11.0), 1, "1.0")})
        == 4
    )


def test_grid_file_errors_name_file_path_and_rule(tmp_path: Path) -> None:
    bad = tmp_path / "grid.toml"
    bad.write_text('"clients.web.retry.max_attempts" = 3\n"clients.web.budget.capacity" = []\n')
    with pytest.raises(ScenarioError) as e:
        load_grid(bad)
    lines = [x.line for x in e.value.errors]
    assert lines == [
        f"{bad}: clients.web.retry.max_attempts=3: must be a list of values to sweep",
        f"{bad}: clients.web.budget.capacity=[]: must list at least one value",
    ]
    with pytest.raises(
        ScenarioError, match=r"<g>: clients\.web\.retry\.max_attempts=0: must be in 1\.\.1000"
    ):
        sweep(small(), {"clients.web.retry.max_attempts": [0]}, [0], source="<g>", progress=False)


def test_sweep_on_dask_workers_matches_the_local_pool() -> None:
    from distributed import Client, LocalCluster

    with ProcessPoolExecutor(2) as pool:
        local = sweep(small(), GRID, [0, 1], executor=pool, progress=False)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        workers = set(client.scheduler_info()["workers"])
        dask = sweep(small(), GRID, [0, 1], executor=client.get_executor(), progress=False)
    # the worker-side record: each run says where it ran
    assert set(dask.runs["worker"]) <= workers and len(dask.runs) == 8
    assert not set(local.runs["worker"]) & workers and all(w.startswith("pid:") for w in local.runs["worker"])
    cols = ["key", *GRID, "seed", *METRICS]
    pd.testing.assert_frame_equal(local.runs[cols], dask.runs[cols])
    pd.testing.assert_frame_equal(local.summary, dask.summary)
    # per-setting means over the seeds, with an interval around them
    m = local.means("amplification")
    assert len(m) == 4 and (m["n"] == 2).all() and (m["ci_low"] <= m["mean"]).all()
    one = local.runs[
        (local.runs["clients.web.retry.max_attempts"] == 3)
        & (local.runs["clients.web.retry.backoff.base"] == 0.0)
    ]
    row = m[(m["clients.web.retry.max_attempts"] == 3) & (m["clients.web.retry.backoff.base"] == 0.0)]
    assert row["mean"].item() == pytest.approx(one["amplification"].mean())


class Counting:
    """A run function that counts its calls and, past ``fail_after`` calls, raises (an interruption)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after
        self.lock = threading.Lock()

    def __call__(self, scenario: Scenario, seed: int) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            n = self.calls
        if self.fail_after is not None and n > self.fail_after:
            raise KeyboardInterrupt("interrupted")
        return run_row(scenario, seed)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    first = Counting(fail_after=3)
    with ThreadPoolExecutor(1) as ex, pytest.raises(KeyboardInterrupt):
        sweep(small(), GRID, [0, 1], executor=ex, checkpoint=out, progress=False, run=first)
    saved = pd.read_parquet(out)
    assert len(saved) == 3  # every run that finished before the interruption is on disk

    resumed = Counting()
    with ThreadPoolExecutor(2) as ex:
        result = sweep(small(), GRID, [0, 1], executor=ex, checkpoint=out, progress=False, run=resumed)
    assert resumed.calls == 8 - 3  # zero recomputed runs
    again = Counting()
    with ThreadPoolExecutor(2) as ex:
        sweep(small(), GRID, [0, 1], executor=ex, checkpoint=out, progress=False, run=again)
    assert again.calls == 0 and len(pd.read_parquet(out)) == 8

    with ThreadPoolExecutor(2) as ex:
        fresh = sweep(small(), GRID, [0, 1], executor=ex, progress=False)
    cols = ["key", *GRID, "seed", *METRICS]
    pd.testing.assert_frame_equal(result.runs[cols], fresh.runs[cols], check_dtype=False)


def test_rwb_sweep_writes_runs_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('"clients.web.retry.max_attempts" = [1, 3]\n')
    sets = [x for k, v in SMALL.items() for x in ("--set", f"{k}={v}")]
    out, summary = tmp_path / "runs.parquet", tmp_path / "summary.csv"
    args = ["sweep", str(ROOT / "scenarios/retry_storm.toml"), "--grid", str(grid), "--out", str(out)]
    rc = main([*args, "--summary", str(summary), "--seeds", "0..1", "--workers", "2", *sets])
    assert rc == 0
    runs = pd.read_parquet(out)
    pairs = zip(runs["clients.web.retry.max_attempts"], runs["seed"], strict=True)
    assert sorted(pairs) == [(1, 0), (1, 1), (3, 0), (3, 1)]
    table = pd.read_csv(summary)
    assert set(table["metric"]) >= {"success_ratio", "amplification", "p99_after_fault"}
    assert "amplification: mean [95% interval]" in capsys.readouterr().out
    assert main([*args, "--seeds", "0..x"]) == 2
    assert "error: argument --seeds: must be seeds such as 0..9" in capsys.readouterr().err
