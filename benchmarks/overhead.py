"""Per-call cost of a successful call through deadline + retry + breaker.

Ours (``SyncDriver`` over a ``Pipeline`` with an overall deadline, 3 attempts
with full jitter and a count-window breaker) against tenacity + pybreaker
stacked in their idiomatic form (``benchmarks/peers/tenacity_pybreaker.py``),
measured side by side in one run, interleaved, median of repeats. The cost of
the bare function is subtracted from both. Prints the ratio ours / peers
(target <= 0.33).

    .venv/bin/python benchmarks/overhead.py [--calls N] [--repeats R]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.tenacity_pybreaker import make_call

from resilience import ExponentialBackoff, FullJitter, Pipeline, RetryConfig
from resilience.breaker import BreakerConfig, CircuitBreaker
from resilience.drivers import SyncDriver


def target() -> int:
    return 42


def ours() -> Callable[[], int]:
    pipeline = Pipeline(
        RetryConfig(
            max_attempts=3,
            timeout=10.0,
            backoff=ExponentialBackoff(base=0.1, cap=10.0, jitter=FullJitter()),
        ),
        breaker=CircuitBreaker(BreakerConfig(window_size=100, minimum_calls=100, wait_in_open=30.0)),
        rng=random.Random(1),
    )
    driver = SyncDriver(pipeline)
    return lambda: driver.call(target)


def per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    candidates: dict[str, Callable[[], object]] = {
        "bare": target,
        "ours": ours(),
        "tenacity+pybreaker": make_call(target),
    }
    for fn in candidates.values():  # warm up
        per_call(fn, 1000)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.repeats):
        for name, fn in candidates.items():
            samples[name].append(per_call(fn, args.calls))
    med = {name: statistics.median(v) for name, v in samples.items()}
    bare = med["bare"]
    ours_cost = med["ours"] - bare
    peers_cost = med["tenacity+pybreaker"] - bare
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("tenacity", "pybreaker"))
    print(f"python {platform.python_version()}, {versions}; {args.calls} calls x {args.repeats} repeats")
    for name in candidates:
        print(f"  {name:20s} {med[name] * 1e6:8.2f} us/call")
    print(f"overhead ours:  {ours_cost * 1e6:.2f} us/call")
    print(f"overhead peers: {peers_cost * 1e6:.2f} us/call")
    print(f"ratio ours/peers = {ours_cost / peers_cost:.3f} (target <= 0.33)")


if __name__ == "__main__":
    main()
