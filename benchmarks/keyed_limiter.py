"""Memory per key and time per decision of ``resilience.admission.KeyedRateLimiter``.

Fills a limiter with ``--keys`` client IPs (one grant each, none idle yet), reports the bytes still
allocated per key (tracemalloc, key strings included), then times ``--calls`` ``try_acquire`` calls
on keys drawn at random (the chapter-5 L7 proxy's pattern: 10,000 IPs, each well under its rate).

    .venv/bin/python benchmarks/keyed_limiter.py [--keys 10000] [--calls 300000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

from resilience.admission import KeyedRateLimiter, KeyedRateLimiterConfig


def measure(keys: int, calls: int, seed: int) -> tuple[float, float]:
    """Bytes per held key and nanoseconds per ``try_acquire``."""
    rl = KeyedRateLimiter(KeyedRateLimiterConfig(rate=50.0, burst=100.0, max_keys=2 * keys))
    names = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(keys)]
    tracemalloc.start()
    try:
        for i, k in enumerate(names):
            rl.try_acquire(k, i * 1e-4)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    rng = random.Random(seed)
    seq = [rng.choice(names) for _ in range(calls)]
    now = 1.0
    t0 = time.process_time()
    for k in seq:
        now += 1e-5
        rl.try_acquire(k, now)
    return held / keys, (time.process_time() - t0) / calls * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs = [measure(args.keys, args.calls, seed) for seed in range(1, args.repeat + 1)]
    per_key = min(b for b, _ in runs)
    per_call = min(t for _, t in runs)
    print(f"{args.keys:,} keys: {per_key:,.0f} bytes per key held (key strings included)")
    print(f"try_acquire: {per_call:,.0f} ns per call (best of {args.repeat}, CPU time)")


if __name__ == "__main__":
    main()
