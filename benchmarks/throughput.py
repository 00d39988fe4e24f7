"""Simulator speed against bare SimPy and Ciw, measured side by side in one process.

Four measurements of the same M/M/4 model (λ = 3.2, μ = 1, 200 k customers):

- ``simpy``: bare SimPy as its documentation teaches (benchmarks/baselines/simpy_mmc.py);
- ``ciw``: Ciw as its documentation teaches (benchmarks/baselines/ciw_mmc.py);
- ``plain``: our simulator with no resilience feature (one attempt, no breaker);
- ``full``: our simulator with 5% transient errors, 3 attempts with full
  jitter, a count-window breaker, a per-attempt timeout, a deadline and
  metrics on: 1 s bins, 15 s scrapes (benchmarks/bench_scenarios.py);
- ``coarse``: the same with bins and scrapes every 100 s (shown for
  reference: it separates the per-request cost from the per-bin cost; the
  target uses ``full``).

Each is repeated ``--repeats`` times in interleaved order; the median is
reported. Targets: full ÷ simpy ≥ 0.6 and plain ÷ ciw ≥ 2.

    .venv/bin/python benchmarks/throughput.py [--customers 200000] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baselines import ciw_mmc, simpy_mmc
from bench_scenarios import full_stack, plain_mmc

TARGET_FULL_OVER_SIMPY = 0.6
TARGET_PLAIN_OVER_CIW = 2.0


def _ours(scenario_fn: Callable[[int], object], customers: int, seed: int) -> dict[str, float]:
    from sim import run

    scenario = scenario_fn(customers)
    t0 = time.perf_counter()
    result = run(scenario, seed=seed)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    requests = float(result.summary["requests"])
    return {"customers": requests, "seconds": elapsed, "customers_per_s": requests / elapsed}


def measure(customers: int, repeats: int, only: list[str] | None = None) -> dict[str, list[dict[str, float]]]:
    """Run every benchmark ``repeats`` times, interleaved; raw results per name."""
    runs: dict[str, Callable[[int], dict[str, float]]] = {
        "simpy": lambda seed: simpy_mmc.run(customers, seed=seed),
        "ciw": lambda seed: ciw_mmc.run(customers, seed=seed),
        "plain": lambda seed: _ours(plain_mmc, customers, seed),
        "full": lambda seed: _ours(full_stack, customers, seed),
        "coarse": lambda seed: _ours(
            lambda n: full_stack(n, bin_width=100.0, scrape_interval=100.0), customers, seed
        ),
    }
    names = [n for n in runs if only is None or n in only]
    out: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for i in range(repeats):
        for name in names:
            r = runs[name](i + 1)
            out[name].append(r)
            print(f"  {name:6s} run {i + 1}: {r['customers_per_s']:>10,.0f} customers/s", file=sys.stderr)
    return out


def environment() -> dict[str, str]:
    """Interpreter and library versions."""
    env = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "system": platform.system(),
    }
    for dist in ("simpy", "ciw", "numpy"):
        try:
            env[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            env[dist] = "absent"
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", choices=["simpy", "ciw", "plain", "full", "coarse"])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    env = environment()
    raw = measure(args.customers, args.repeats, args.only)
    median = {n: statistics.median(r["customers_per_s"] for r in rs) for n, rs in raw.items()}
    ratios: dict[str, float] = {}
    if "full" in median and "simpy" in median:
        ratios["full_over_simpy"] = median["full"] / median["simpy"]
    if "coarse" in median and "simpy" in median:
        ratios["coarse_over_simpy"] = median["coarse"] / median["simpy"]
    if "plain" in median and "ciw" in median:
        ratios["plain_over_ciw"] = median["plain"] / median["ciw"]
    report = {
        "environment": env,
        "customers": args.customers,
        "repeats": args.repeats,
        "customers_per_s": median,
        "ratios": ratios,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"M/M/4, λ=3.2, μ=1, {args.customers:,} customers, median of {args.repeats}")
    for name, v in median.items():
        print(f"  {name:6s} {v:>12,.0f} customers/s")
    targets = {
        "full_over_simpy": TARGET_FULL_OVER_SIMPY,
        "coarse_over_simpy": TARGET_FULL_OVER_SIMPY,
        "plain_over_ciw": TARGET_PLAIN_OVER_CIW,
    }
    for key, v in ratios.items():
        verdict = "meets" if v >= targets[key] else "misses"
        print(f"  {key:18s} {v:6.2f}  ({verdict} target >= {targets[key]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
