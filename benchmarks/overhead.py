"""Per-call cost of a successful call through deadline + retry + breaker.

Ours (``SyncDriver`` over a ``Pipeline`` with an overall deadline, 3 attempts
with full jitter and a count-window breaker) against tenacity + pybreaker
(``benchmarks/peers/tenacity_pybreaker.py``), each form against the same form:
the call form (one reused ``driver`` calling ``driver.call(fn)``; one reused
``Retrying`` object calling ``breaker.call``) and the decorator form
(``@driver.wrap``; ``@retry`` over ``@breaker``). All measured side by side in
one run, interleaved, median of repeats; the cost of the bare function is
subtracted from each. Prints ours / peers for both forms; the target (<= 0.33)
is held against the larger, least flattering ratio (the faster peer form).

The front door is measured in the same run, like for like: the decorator
``@resilience.retry(on=ValueError, attempts=3, timeout=45)`` (no breaker)
against ``@stamina.retry`` with the same arguments and its default
instrumentation, and tenacity's ``@retry`` (3 attempts, 45 s, exponential
jitter). Target: ours <= 0.3 x stamina's per-call cost on the success path.

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

import stamina
import tenacity
from peers.tenacity_pybreaker import make_call, make_call_form

import resilience
from resilience.breaker import BreakerConfig, CircuitBreaker
from resilience.core import ExponentialBackoff, FullJitter, Pipeline, RetryConfig
from resilience.drivers import SyncDriver

TARGET = 0.33
FORMS = {
    "call form": ("ours call form", "peers call form"),
    "decorator form": ("ours decorator form", "peers decorator form"),
}
DECORATOR_TARGET = 0.3
DECORATORS = ("stamina decorator", "tenacity decorator")


def target() -> int:
    return 42


def ours() -> dict[str, Callable[[], int]]:
    """The success-path call through our driver, in its call form and its decorator form."""
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
    return {"ours call form": lambda: driver.call(target), "ours decorator form": driver.wrap(target)}


def decorators() -> dict[str, Callable[[], int]]:
    """The same success-path call through our decorator, stamina's and tenacity's."""
    ours_front = resilience.retry(on=ValueError, attempts=3, timeout=45)(target)
    stamina_dec = stamina.retry(on=ValueError, attempts=3, timeout=45)(target)
    tenacity_dec = tenacity.retry(
        retry=tenacity.retry_if_exception_type(ValueError),
        stop=tenacity.stop_after_attempt(3) | tenacity.stop_after_delay(45),
        wait=tenacity.wait_random_exponential(multiplier=0.1, max=5.0),
        reraise=True,
    )(target)
    return {
        "ours retry decorator": ours_front,
        "stamina decorator": stamina_dec,
        "tenacity decorator": tenacity_dec,
    }


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
        **ours(),
        "peers call form": make_call_form(target),
        "peers decorator form": make_call(target),
        **decorators(),
    }
    for fn in candidates.values():  # warm up
        per_call(fn, 1000)
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.repeats):
        for name, fn in candidates.items():
            samples[name].append(per_call(fn, args.calls))
    med = {name: statistics.median(v) for name, v in samples.items()}
    bare = med["bare"]
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("tenacity", "pybreaker", "stamina"))
    print(f"python {platform.python_version()}, {versions}; {args.calls} calls x {args.repeats} repeats")
    for name in candidates:
        print(f"  {name:20s} {med[name] * 1e6:8.2f} us/call")
    ratios = {}
    for form, (ours_name, peers_name) in FORMS.items():
        ours_cost, peers_cost = med[ours_name] - bare, med[peers_name] - bare
        ratios[form] = ours_cost / peers_cost
        print(
            f"overhead {form}: ours {ours_cost * 1e6:.2f} us/call, peers {peers_cost * 1e6:.2f} us/call;"
            f" ours / peers = {ratios[form]:.3f}"
        )
    worst = max(ratios, key=ratios.__getitem__)
    verdict = "meets" if ratios[worst] <= TARGET else "MISSES"
    print(
        f"ratio ours/peers, least flattering form ({worst}) = {ratios[worst]:.3f}"
        f" ({verdict} target <= {TARGET})"
    )
    ours_dec = med["ours retry decorator"] - bare
    print(f"overhead ours retry decorator: {ours_dec * 1e6:.2f} us/call")
    for name in DECORATORS:
        cost = med[name] - bare
        print(f"overhead {name}: {cost * 1e6:.2f} us/call; ours retry decorator / it = {ours_dec / cost:.3f}")
    ratio = ours_dec / (med["stamina decorator"] - bare)
    verdict = "meets" if ratio <= DECORATOR_TARGET else "MISSES"
    print(
        f"ratio ours retry decorator / stamina decorator = {ratio:.3f}"
        f" ({verdict} target <= {DECORATOR_TARGET})"
    )


if __name__ == "__main__":
    main()
