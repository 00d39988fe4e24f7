"""Memory is bounded by time bins, not by requests: the same duration at 1x and 100x the rate.

Each run happens in a fresh subprocess, which reports its peak resident set
size above the baseline taken after every import (``ru_maxrss`` is the
process's peak). The model is the full stack of benchmarks/bench_scenarios.py on a
service with unlimited workers (so any rate is stable), 1 s bins and a 15 s
scrape interval, for 1000 simulated seconds: 10 k requests at 10/s and 1 M
requests at 1000/s. Target: the two peaks within 20 MB of each other.

    .venv/bin/python benchmarks/memory.py [--duration 1000] [--rate 10] [--factor 100] [--json]
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


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def scenario(duration: float, rate: float) -> Any:
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
                "instances": 10,
                "target": "api",
                "workload": {"type": "poisson", "rate": rate},
                "retry": {
                    "max_attempts": 3,
                    "attempt_timeout": 1.0,
                    "timeout": 5.0,
                    "backoff": {"type": "exponential", "base": 0.05, "cap": 1.0, "jitter": {"type": "full"}},
                },
                "breaker": {"window_type": "count", "window_size": 100, "minimum_calls": 20},
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


def child(duration: float, rate: float) -> dict[str, float]:
    """Import everything, take the baseline, run once, report the peak above it."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import simpy  # noqa: F401

    import sim  # noqa: F401
    from sim import run

    sc = scenario(duration, rate)
    gc.collect()
    base = _peak_mb()
    t0 = time.perf_counter()
    result = run(sc, seed=1)
    elapsed = time.perf_counter() - t0
    peak = _peak_mb()
    return {
        "rate": rate,
        "requests": float(result.summary["requests"]),
        "baseline_mb": base,
        "peak_mb": peak,
        "above_baseline_mb": peak - base,
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1000.0)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--factor", type=float, default=100.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.duration, args.child)))
        return 0

    results = []
    for rate in (args.rate, args.rate * args.factor):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(rate), "--duration", str(args.duration)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    low, high = results
    diff = high["above_baseline_mb"] - low["above_baseline_mb"]
    report = {"runs": results, "difference_mb": diff, "target_mb": TARGET_MB}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.duration:.0f} simulated seconds, full stack, 1 s bins, 15 s scrapes; fresh process each")
    for r in results:
        print(
            f"  rate {r['rate']:>8,.0f}/s  {r['requests']:>12,.0f} requests  "
            f"peak above post-import baseline {r['above_baseline_mb']:8.1f} MB  "
            f"(baseline {r['baseline_mb']:.1f} MB, {r['seconds']:.1f} s)"
        )
    verdict = "meets" if abs(diff) <= TARGET_MB else "misses"
    print(f"  difference {diff:+.1f} MB ({verdict} target: within {TARGET_MB:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
