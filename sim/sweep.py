"""Sweeps: many (scenario, seed) runs on any ``concurrent.futures`` executor, as one tidy DataFrame.

``run_many`` runs scenarios x seeds and returns one row per run; ``sweep`` runs a base scenario
over a parameter grid x seeds, checkpoints finished runs to Parquet and resumes from them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario.spec import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from sim.observe.result import RunResult

__all__ = [
    "flatten",
    "p99_after_fault",
    "param_columns",
    "run_key",
    "run_many",
    "run_row",
    "sweep_runs",
]

SCALARS = (
    "sim_seconds",
    "requests",
    "attempts",
    "successes",
    "in_flight_at_end",
    "success_ratio",
    "goodput_ratio",
    "amplification",
    "recovery_seconds",
)
META = ("key", "scenario", "seed", "scenario_index", "worker")
"""Columns of a run row that are not measurements."""

RunFn = Callable[[Scenario, int], dict[str, Any]]


def flatten(summary: dict[str, Any]) -> dict[str, Any]:
    """One flat row from a run summary (failures, degraded and latency spread into columns)."""
    row: dict[str, Any] = {"scenario": summary["scenario"], "seed": summary["seed"]}
    for k in SCALARS:
        row[k] = summary[k]
    for k, v in summary["latency_seconds"].items():
        row[f"latency_{k}"] = v
    for k, v in summary["failures"].items():
        row[f"failures_{k}"] = v
    for k, v in summary["degraded"].items():
        row[f"degraded_{k}"] = v
    for edge, b in summary["breakers"].items():
        for k, v in b.items():
            row[f"breaker_{k}[{edge}]"] = v
    return row


def p99_after_fault(result: RunResult, q: float = 0.99) -> float | None:
    """The ``q`` latency quantile of successful requests (arrived after warm-up) that completed in a
    time bin starting at or after the first fault's start; None without faults or such requests."""
    import numpy as np

    from sim.observe.histogram import LogHistogram

    sc = result.scenario
    if not sc.faults:
        return None
    start = min(f.start for f in sc.faults)
    ends, groups, _ = result._bins
    e = np.frombuffer(ends)
    starts = np.concatenate(([0.0], e[:-1]))
    h = LogHistogram()
    for gb in groups:
        cuts = gb.latency
        ints, floats = cuts._columns()
        if not len(ints):
            continue
        keep = ints[:, 1].astype(bool) & (starts[ints[:, 0]] >= start - 1e-9)
        if not keep.any():
            continue
        flags = np.repeat(keep, ints[:, 3])
        keys = np.frombuffer(cuts.keys.array(), dtype=np.int64)[flags]
        counts = np.frombuffer(cuts.counts.array(), dtype=np.int64)[flags]
        uniq, where = np.unique(keys, return_inverse=True)
        sums = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(sums, where, counts)
        for b, k in zip(uniq.tolist(), sums.tolist(), strict=True):
            h.counts[b] = h.counts.get(b, 0) + k
        h.n += int(ints[keep, 2].sum())
        h.total += float(floats[keep, 0].sum())
        h.lo = min(h.lo, float(floats[keep, 1].min()))
        h.hi = max(h.hi, float(floats[keep, 2].max()))
    value = h.quantile(q)
    return None if math.isnan(value) else value


def _worker() -> str:
    """Where this run executes: the Dask worker's address inside a Dask worker, else ``pid:<pid>``."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid:{os.getpid()}"


def run_row(scenario: Scenario, seed: int) -> dict[str, Any]:
    """Run once; the flat row of ``run_many`` plus ``p99_after_fault`` and ``worker`` (where it ran)."""
    from sim.engine import run

    result = run(scenario, seed)
    row = flatten(result.summary)
    row["p99_after_fault"] = p99_after_fault(result)
    row["worker"] = _worker()
    return row


# -- parameters as columns ----------------------------------------------------------------------
def _paths(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        if not value and prefix:
            out[prefix] = "{}"
        for k, v in value.items():
            _paths(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list | tuple):
        if not value:
            out[prefix] = "[]"
        for i, v in enumerate(value):
            _paths(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = value


def scenario_paths(scenario: Scenario) -> dict[str, Any]:
    """Every leaf of the scenario as ``dotted.path -> value`` (lists indexed as ``faults[0].start``)."""
    out: dict[str, Any] = {}
    _paths(scenario.to_dict(), "", out)
    return out


def param_columns(scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
    """For each scenario, its values at the dotted paths where the scenarios differ (``name`` left out:
    it is the ``scenario`` column); a path a scenario lacks is None."""
    flat = [scenario_paths(sc) for sc in scenarios]
    keys: list[str] = []
    for f in flat:
        keys.extend(k for k in f if k not in keys)
    missing = object()
    differ = [
        k
        for k in keys
        if k != "name" and len({json.dumps(f.get(k, missing), default=repr) for f in flat}) > 1
    ]
    return [{k: f.get(k) for k in differ} for f in flat]


def run_key(scenario: Scenario, seed: int, version: str | None = None) -> str:
    """The checkpoint key of one run: a hash of the canonical scenario, the seed and the package version."""
    canonical = json.dumps(scenario.to_dict(), sort_keys=True, default=repr, separators=(",", ":"))
    text = f"{canonical}\n{seed}\n{package_version() if version is None else version}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resilience-workbench")
    except PackageNotFoundError:
        return "unknown"


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(rows)
    fill = [c for c in df.columns if c.startswith(("failures_", "degraded_"))]
    if fill:
        df[fill] = df[fill].fillna(0).astype(int)
    return df


def run_many(
    scenarios: Scenario | Iterable[Scenario],
    seeds: Iterable[int] = (0,),
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Run every scenario with every seed; one row per run (process pool unless ``executor`` is given).

    Any ``concurrent.futures.Executor`` works, e.g. a Dask cluster's ``client.get_executor()``. Rows
    carry, as columns named by dotted path, the parameters that differ between the scenarios.
    """
    items = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    seeds = list(seeds)
    params = param_columns(items) if len(items) > 1 else [{} for _ in items]
    jobs = [(i, sc, seed) for i, sc in enumerate(items) for seed in seeds]
    own = executor is None
    ex = ProcessPoolExecutor() if executor is None else executor
    try:
        futures = [ex.submit(run_row, sc, seed) for _, sc, seed in jobs]
        rows = []
        for (i, _, _), fut in zip(jobs, futures, strict=True):
            row = fut.result()
            row["scenario_index"] = i
            row.update(params[i])
            rows.append(row)
    finally:
        if own:
            ex.shutdown(cancel_futures=True)
    return _frame(rows)


# -- checkpointed runs --------------------------------------------------------------------------
class _Checkpoint:
    """Finished rows written to one Parquet file (rewritten atomically, at most every ``every`` s)."""

    def __init__(self, path: Path | None, every: float = 1.0) -> None:
        self.path = path
        self.every = every
        self.rows: list[dict[str, Any]] = []
        self.dirty = False
        self.last = time.monotonic()

    def load(self) -> dict[str, dict[str, Any]]:
        import pandas as pd

        if self.path is None or not self.path.exists():
            return {}
        df = pd.read_parquet(self.path)
        self.rows = [{str(k): _plain(v) for k, v in r.items()} for r in df.to_dict("records")]
        return {str(r["key"]): r for r in self.rows}

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.dirty = True
        if time.monotonic() - self.last >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.path is None or not self.dirty:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        _frame(self.rows).to_parquet(tmp, index=False)
        os.replace(tmp, self.path)
        self.dirty = False
        self.last = time.monotonic()


def _plain(v: Any) -> Any:
    """A Parquet cell back as a plain Python value (NaN -> None)."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def sweep_runs(
    jobs: Sequence[tuple[Scenario, int, dict[str, Any]]],
    *,
    executor: Executor | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = False,
    run: RunFn = run_row,
) -> pd.DataFrame:
    """Run ``(scenario, seed, columns)`` jobs; rows carry ``key`` and ``columns``; one row per job.

    Rows already in the ``checkpoint`` Parquet file (same key: scenario, seed, package version) are
    reused, not run again; every finished run is written there as it finishes (at least once a second
    and when the sweep ends, fails or is interrupted). ``run`` must be picklable for process pools.
    """
    from tqdm.auto import tqdm

    cp = _Checkpoint(None if checkpoint is None else Path(checkpoint))
    done = cp.load()
    keyed = [(run_key(sc, seed), sc, seed, cols) for sc, seed, cols in jobs]
    todo = [j for j in keyed if j[0] not in done]
    todo = list({j[0]: j for j in todo}.values())  # identical runs once
    bar = tqdm(total=len(keyed), initial=len(keyed) - len(todo), disable=not progress, unit="run")
    own = executor is None and bool(todo)
    ex = ProcessPoolExecutor() if executor is None and todo else executor
    futures: dict[Future[dict[str, Any]], tuple[str, dict[str, Any]]] = {}
    try:
        for key, sc, seed, cols in todo:
            assert ex is not None
            futures[ex.submit(run, sc, seed)] = (key, cols)
        for fut in as_completed(futures):
            key, cols = futures[fut]
            row = {"key": key, **fut.result(), **cols}
            done[key] = row
            cp.add(row)
            bar.update(1)
    finally:
        for fut in futures:
            fut.cancel()
        cp.flush()
        bar.close()
        if own and ex is not None:
            ex.shutdown(cancel_futures=True)
    rows = []
    for key, _, _, cols in keyed:
        rows.append({**done[key], **cols})
    return _frame(rows)
