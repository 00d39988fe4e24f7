"""Sweep scaling: sequential vs a 2-process pool vs a 2-worker Dask LocalCluster, the same runs each.

Prints the pool's speed-up over sequential (target >= 1.8) and Dask's time over the pool's
(target within 10%, i.e. <= 1.10). Both executors are started and warmed (every worker has run one
job) before timing, so the figures compare the work, not start-up; every side's results are checked
to be identical. The three sides are timed ``--repeats`` times in rotated order and the medians of
the per-repeat ratios are the figures; the least flattering repeat is printed beside them (this
machine is shared: single figures move by 20%).

    .venv/bin/python benchmarks/sweep.py [--runs 16] [--duration 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import Scenario, load_scenario  # noqa: E402
from sim.sweep import run_row, sweep_runs  # noqa: E402

COLUMNS = ("requests", "attempts", "successes", "amplification", "latency_p99", "p99_after_fault")


def jobs(duration: float, runs: int) -> list[tuple[Scenario, int, dict[str, Any]]]:
    sc = load_scenario(ROOT / "scenarios/retry_storm_resilient.toml").with_(duration=duration)
    return [(sc, seed, {}) for seed in range(runs)]


def timed(work: list[tuple[Scenario, int, dict[str, Any]]], ex: Executor | None) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    if ex is None:
        rows = [run_row(sc, seed) for sc, seed, _ in work]
    else:
        rows = sweep_runs(work, executor=ex).to_dict("records")
    wall = time.perf_counter() - start
    return wall, [tuple(r[c] for c in COLUMNS) for r in rows]


def warm(ex: Executor, n: int) -> None:
    """Start every worker: ``n`` short runs (imports done, caches warm)."""
    sc = load_scenario(ROOT / "scenarios/retry_storm_resilient.toml").with_(duration=40.0)
    for f in [ex.submit(run_row, sc, 1000 + i) for i in range(n)]:
        f.result()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=16, help="runs per side (seeds 0..runs-1)")
    p.add_argument("--duration", type=float, default=60.0, help="simulated s per run (>= 40)")
    p.add_argument("--repeats", type=int, default=5, help="timings per side, in rotated order")
    args = p.parse_args()
    work = jobs(args.duration, args.runs)
    print(f"{args.runs} runs of retry_storm_resilient.toml at {args.duration:g} simulated s each")
    print(f"CPUs: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

    from distributed import Client, LocalCluster

    base = [tuple(r[c] for c in COLUMNS) for r in (run_row(sc, seed) for sc, seed, _ in work)]
    walls: dict[str, list[float]] = {"sequential": [], "pool": [], "dask": []}
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with ProcessPoolExecutor(2) as pool, cluster, Client(cluster) as client:
        dask = client.get_executor()
        warm(pool, 4)
        warm(dask, 4)
        sides: list[tuple[str, Executor | None]] = [("sequential", None), ("pool", pool), ("dask", dask)]
        for r in range(args.repeats):
            for name, ex in sides[r % 3 :] + sides[: r % 3]:
                wall, rows = timed(work, ex)
                assert rows == base, f"{name}: results differ from the sequential ones"
                walls[name].append(wall)
            print(
                f"repeat {r + 1}: sequential {walls['sequential'][-1]:6.2f} s, "
                f"pool {walls['pool'][-1]:6.2f} s, Dask {walls['dask'][-1]:6.2f} s",
                flush=True,
            )
    speedup = [s / q for s, q in zip(walls["sequential"], walls["pool"], strict=True)]
    dask_pool = [d / q for d, q in zip(walls["dask"], walls["pool"], strict=True)]
    print(
        f"process pool (2) speed-up over sequential: median {statistics.median(speedup):.2f}x "
        f"(least flattering repeat {min(speedup):.2f}x; target >= 1.8)"
    )
    print(
        f"Dask LocalCluster(2) / pool: median {statistics.median(dask_pool):.2f} "
        f"(least flattering repeat {max(dask_pool):.2f}; target <= 1.10)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
