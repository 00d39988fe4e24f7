"""Sweeps: many (scenario, seed) runs on any ``concurrent.futures`` executor, as one tidy DataFrame."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from sim.scenario.spec import Scenario

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["flatten", "run_many"]

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


def _one(scenario: Scenario, seed: int) -> dict[str, Any]:
    from sim.engine import run

    return run(scenario, seed).summary


def run_many(
    scenarios: Scenario | Iterable[Scenario], seeds: Iterable[int] = (0,), executor: Executor | None = None
) -> pd.DataFrame:
    """Run every scenario with every seed; one row per run (process pool unless ``executor`` is given).

    Any ``concurrent.futures.Executor`` works, e.g. a Dask cluster's ``client.get_executor()``.
    """
    import pandas as pd

    items = [scenarios] if isinstance(scenarios, Scenario) else list(scenarios)
    jobs = [(i, sc, seed) for i, sc in enumerate(items) for seed in seeds]
    own = executor is None
    ex = ProcessPoolExecutor() if own else executor
    try:
        futures = [ex.submit(_one, sc, seed) for _, sc, seed in jobs]  # type: ignore[union-attr]
        rows = []
        for (i, _, _), fut in zip(jobs, futures, strict=True):
            row = flatten(fut.result())
            row["scenario_index"] = i
            rows.append(row)
    finally:
        if own:
            ex.shutdown()  # type: ignore[union-attr]
    df = pd.DataFrame(rows)
    fill = [c for c in df.columns if c.startswith(("failures_", "degraded_"))]
    df[fill] = df[fill].fillna(0).astype(int)
    return df
