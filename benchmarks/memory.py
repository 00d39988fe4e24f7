"""Memory is bounded by time bins, not by requests, and client instances cost memory only once they act.

Each run happens in a fresh subprocess, which reports its peak resident set
size above the baseline taken after every import (``ru_maxrss`` is the
process's peak). The model is the full stack of benchmarks/bench_scenarios.py on a
service with unlimited workers (so any rate is stable), 1 s bins and a 15 s
scrape interval. Every client instance is real: 3 attempts with full jitter, a
count-window breaker of 100 calls, a token-bucket retry budget and its own
random streams.

Requests: 1000 simulated seconds, 10 k requests at 10/s and 1 M requests at
1000/s (10 instances). Target: the two peaks within 20 MB of each other.

Instances: the same total work spread over few or many instances, side by
side: 1,000 instances x 1,000 requests and 100,000 instances x 10 requests
(Poisson arrivals at 1000/s for 1000 s, each request on an instance drawn
uniformly, so an instance is idle between its requests). Targets for the many:
<= 200 MB above the baseline and <= 3x the wall time of the few. With
``--repeats R`` each pair runs R times, interleaved; the least flattering ratio
(largest) is held against the target.

    .venv/bin/python benchmarks/memory.py [--duration 1000] [--rate 10] [--factor 100]
        [--only requests|instances] [--repeats 1] [--total 1000000] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET_MB = 20.0
INSTANCE_MB = 200.0  # many instances: peak above the baseline
INSTANCE_TIME = 3.0  # many instances: wall time / that of the few
FEW, MANY = 1_000, 100_000
INSTANCE_RATE = 1000.0  # requests per simulated second in the instance runs


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def scenario(duration: float, rate: float, instances: int = 10) -> Any:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from sim.scenario.loader import scenario_from_dict

    data: dict[str, Any] = {
        "name": "bench-memory",
        "warmup": 0.0,
        "duration": duration,
        "slo_latency": 1.0,
        "bin_width": 1.0,
        "scrape_interval": 15.0,
        "clients": {
            "callers": {
                "instances": instances,
                "target": "api",
                "workload": {"type": "poisson", "rate": rate},
                "retry": {
                    "max_attempts": 3,
                    "attempt_timeout": 1.0,
                    "timeout": 5.0,
                    "backoff": {"type": "exponential", "base": 0.05, "cap": 1.0, "jitter": {"type": "full"}},
                },
                "breaker": {"window_type": "count", "window_size": 100, "minimum_calls": 20},
                "budget": {"type": "token_bucket"},
            }
        },
        "services": {
            "api": {
                "workers": 0,
                "service_time": {"type": "exponential", "mean": 0.05},
                "errors": [{"probability": 0.05, "status": 503}],
            }
        },
    }
    return scenario_from_dict(data, source="<bench-memory>")


def child(duration: float, rate: float, instances: int = 10) -> dict[str, float]:
    """Import everything, take the baseline, run once, report the peak above it."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import simpy  # noqa: F401

    import sim
    import sim.engine
    from sim import run

    made: list[Any] = []  # each group's instances, to count the built ones (a run keeps no groups)
    build = sim.engine._instances
    sim.engine._instances = lambda *a: made.append(build(*a)) or made[-1]  # type: ignore[assignment]
    sc = scenario(duration, rate, instances)
    gc.collect()
    base = _peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run(sc, seed=1)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _peak_mb()
    built = sum(len(seq.built) for seq in made)
    return {
        "rate": rate,
        "instances": float(instances),
        "built": float(built),
        "requests": float(result.summary["requests"]),
        "baseline_mb": base,
        "peak_mb": peak,
        "above_baseline_mb": peak - base,
        "seconds": elapsed,
        "cpu_seconds": cpu,  # the process's CPU time: a check on wall time when other work shares the machine
    }


def _spawn(duration: float, rate: float, instances: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(rate), "--duration", str(duration)]
    out = subprocess.run(
        [*cmd, "--instances", str(instances)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def requests_check(args: argparse.Namespace) -> dict[str, Any]:
    """The same duration at 1x and ``factor``x the rate."""
    results = [_spawn(args.duration, rate, 10) for rate in (args.rate, args.rate * args.factor)]
    low, high = results
    diff = high["above_baseline_mb"] - low["above_baseline_mb"]
    return {"duration": args.duration, "runs": results, "difference_mb": diff, "target_mb": TARGET_MB}


def instances_check(args: argparse.Namespace) -> dict[str, Any]:
    """``total`` requests over FEW and over MANY instances, interleaved ``repeats`` times."""
    duration = args.total / INSTANCE_RATE
    pairs = []
    for _ in range(args.repeats):
        few = _spawn(duration, INSTANCE_RATE, FEW)
        many = _spawn(duration, INSTANCE_RATE, MANY)
        pairs.append(
            {
                "few": few,
                "many": many,
                "memory_mb": many["above_baseline_mb"],
                "time_ratio": many["seconds"] / few["seconds"],
                "cpu_ratio": many["cpu_seconds"] / few["cpu_seconds"],
            }
        )
    worst_mb = max(p["memory_mb"] for p in pairs)
    worst_time = max(p["time_ratio"] for p in pairs)
    return {
        "total_requests": args.total,
        "pairs": pairs,
        "worst_memory_mb": worst_mb,
        "memory_ratio": worst_mb / INSTANCE_MB,
        "worst_time_ratio": worst_time,
        "time_ratio_of_target": worst_time / INSTANCE_TIME,
        "target_mb": INSTANCE_MB,
        "target_time_ratio": INSTANCE_TIME,
    }


def _row(r: dict[str, float]) -> str:
    return (
        f"{r['instances']:>9,.0f} instances ({r['built']:>9,.0f} built)  {r['requests']:>11,.0f} requests  "
        f"peak above baseline {r['above_baseline_mb']:7.1f} MB  (baseline {r['baseline_mb']:.1f} MB)  "
        f"{r['seconds']:6.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1000.0)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--factor", type=float, default=100.0)
    ap.add_argument("--only", choices=("requests", "instances"), default=None)
    ap.add_argument("--repeats", type=int, default=1, help="instance pairs to run (interleaved)")
    ap.add_argument("--total", type=int, default=FEW * 1000, help="requests in each instance run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--instances", type=int, default=10, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.duration, args.child, args.instances)))
        return 0

    report: dict[str, Any] = {}
    if args.only in (None, "requests"):
        report["requests"] = requests_check(args)
    if args.only in (None, "instances"):
        report["instances"] = instances_check(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if "requests" in report:
        rq = report["requests"]
        print(f"{rq['duration']:.0f} simulated seconds, full stack, 1 s bins, 15 s scrapes; fresh process")
        for r in rq["runs"]:
            print(f"  rate {r['rate']:>8,.0f}/s  " + _row(r))
        diff = rq["difference_mb"]
        verdict = "meets" if abs(diff) <= TARGET_MB else "misses"
        print(f"  difference {diff:+.1f} MB ({verdict} target: within {TARGET_MB:.0f} MB)")
    if "instances" in report:
        ins = report["instances"]
        print(
            f"{ins['total_requests']:,} requests at {INSTANCE_RATE:,.0f}/s over {FEW:,} and over {MANY:,} "
            "instances, side by side; fresh process each"
        )
        for k, p in enumerate(ins["pairs"], 1):
            print(f"  pair {k}  few  " + _row(p["few"]))
            print(f"  pair {k}  many " + _row(p["many"]))
            print(
                f"          memory {p['memory_mb']:.1f} MB, wall time x{p['time_ratio']:.2f} of the few "
                f"(CPU time x{p['cpu_ratio']:.2f})"
            )
        mem_ok = ins["worst_memory_mb"] <= INSTANCE_MB
        time_ok = ins["worst_time_ratio"] <= INSTANCE_TIME
        print(
            f"  memory: {ins['worst_memory_mb']:.1f} MB above baseline = {ins['memory_ratio']:.2f} of the "
            f"{INSTANCE_MB:.0f} MB target ({'meets' if mem_ok else 'misses'})"
        )
        print(
            f"  wall time: x{ins['worst_time_ratio']:.2f} of the few = {ins['time_ratio_of_target']:.2f} "
            f"of the x{INSTANCE_TIME:.0f} target ({'meets' if time_ok else 'misses'})"
        )
        least = max(ins["memory_ratio"], ins["time_ratio_of_target"])
        which = "memory" if ins["memory_ratio"] >= ins["time_ratio_of_target"] else "wall time"
        print(f"  least flattering: {which}, {least:.2f} of its target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
