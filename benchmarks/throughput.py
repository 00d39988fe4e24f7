"""Simulator speed against bare SimPy and Ciw, measured side by side in one process.

Measurements of the same M/M/4 model (λ = 3.2, μ = 1, 200 k customers):

- ``simpy``: bare SimPy as its documentation teaches, one process per customer
  and a ``Resource`` (benchmarks/baselines/simpy_mmc.py);
- ``callback``: bare SimPy with callbacks, ``env.timeout(d)`` plus
  ``callbacks.append`` only (benchmarks/baselines/simpy_callback_mmc.py): the
  engine's practical limit, the form our simulator is written in;
- ``ciw``: Ciw as its documentation teaches (benchmarks/baselines/ciw_mmc.py);
- ``plain``: our simulator with no resilience feature (one attempt, no breaker);
- ``full``: our simulator with 5% transient errors, 3 attempts with full
  jitter, a count-window breaker, a per-attempt timeout, a deadline and
  metrics on: 1 s bins, 15 s scrapes (benchmarks/bench_scenarios.py);
- ``coarse``: the same with bins and scrapes every 100 s (shown for
  reference: it separates the per-request cost from the per-bin cost; the
  target uses ``full``).

Each is repeated ``--repeats`` times in interleaved order; the median is
reported. Time is the process's CPU time by default (``--clock wall`` for wall
time): on a shared machine it is the less disturbed of the two. Targets:
full ÷ callback ≥ 0.3, full ÷ simpy ≥ 0.6 and plain ÷ ciw ≥ 2. The run is
valid only if callback ÷ simpy ≥ 3 (else the machine disturbed the baselines).
The simulator's timers (``sim/model/clock.py``) and run loop (``sim/stepper.py``) work on
SimPy's event queue directly, with the same ordering as the public form (README, "Benchmarks":
what that buys, measured); the script lists every private access in ``sim/``.

    .venv/bin/python benchmarks/throughput.py [--customers 200000] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baselines import ciw_mmc, simpy_callback_mmc, simpy_mmc
from bench_scenarios import full_stack, plain_mmc

TARGET_FULL_OVER_CALLBACK = 0.3
TARGET_FULL_OVER_SIMPY = 0.6
TARGET_PLAIN_OVER_CIW = 2.0
VALID_CALLBACK_OVER_SIMPY = 3.0
NAMES = ["simpy", "callback", "ciw", "plain", "full", "coarse"]
# SimPy internals the simulator could reach for instead of its public API
PRIVATE = re.compile(r"\benv\._(queue|eid|now)\b")  # every use goes through an `env` name
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def private_simpy_access(root: Path) -> list[str]:
    """``file:line`` of every private SimPy attribute used under ``root``."""
    return [
        f"{path.relative_to(root)}:{n}"
        for path in sorted(root.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE.search(line)
    ]


def _timed(
    clock: Callable[[], float], fn: Callable[[], object], count: Callable[[object], float]
) -> dict[str, float]:
    t0 = clock()
    out = fn()
    elapsed = clock() - t0
    n = count(out)
    return {"customers": n, "seconds": elapsed, "customers_per_s": n / elapsed}


def _ours(
    scenario_fn: Callable[[int], object], customers: int, seed: int, clock: Callable[[], float]
) -> dict[str, float]:
    from sim import run

    scenario = scenario_fn(customers)
    return _timed(clock, lambda: run(scenario, seed=seed), lambda r: float(r.summary["requests"]))  # type: ignore[arg-type,attr-defined]


def _baseline(
    fn: Callable[..., dict[str, float]], customers: int, seed: int, clock: Callable[[], float]
) -> dict[str, float]:
    return _timed(clock, lambda: fn(customers, seed=seed), lambda r: r["customers"])  # type: ignore[index]


def measure(
    customers: int,
    repeats: int,
    only: list[str] | None = None,
    clock: Callable[[], float] = time.process_time,
) -> dict[str, list[dict[str, float]]]:
    """Run every benchmark ``repeats`` times, interleaved; raw results per name."""
    runs: dict[str, Callable[[int], dict[str, float]]] = {
        "simpy": lambda seed: _baseline(simpy_mmc.run, customers, seed, clock),
        "callback": lambda seed: _baseline(simpy_callback_mmc.run, customers, seed, clock),
        "ciw": lambda seed: _baseline(ciw_mmc.run, customers, seed, clock),
        "plain": lambda seed: _ours(plain_mmc, customers, seed, clock),
        "full": lambda seed: _ours(full_stack, customers, seed, clock),
        "coarse": lambda seed: _ours(
            lambda n: full_stack(n, bin_width=100.0, scrape_interval=100.0), customers, seed, clock
        ),
    }
    names = [n for n in runs if only is None or n in only]
    out: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for i in range(repeats):
        for name in names:
            r = runs[name](i + 1)
            out[name].append(r)
            print(f"  {name:8s} run {i + 1}: {r['customers_per_s']:>10,.0f} customers/s", file=sys.stderr)
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
    from sim import native

    env["simulator"] = native.build_state()  # `make native`: compiled; RWB_PURE=1: the sources
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", choices=NAMES)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="process CPU time or wall time")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    env = environment()
    raw = measure(args.customers, args.repeats, args.only, CLOCKS[args.clock])
    median = {n: statistics.median(r["customers_per_s"] for r in rs) for n, rs in raw.items()}
    pairs = {
        "full_over_callback": ("full", "callback"),
        "full_over_simpy": ("full", "simpy"),
        "coarse_over_callback": ("coarse", "callback"),
        "coarse_over_simpy": ("coarse", "simpy"),
        "plain_over_ciw": ("plain", "ciw"),
        "callback_over_simpy": ("callback", "simpy"),
    }
    ratios = {k: median[a] / median[b] for k, (a, b) in pairs.items() if a in median and b in median}
    private = private_simpy_access(Path(__file__).resolve().parent.parent / "sim")
    valid = ratios.get("callback_over_simpy", VALID_CALLBACK_OVER_SIMPY) >= VALID_CALLBACK_OVER_SIMPY
    report = {
        "environment": env,
        "customers": args.customers,
        "repeats": args.repeats,
        "clock": args.clock,
        "customers_per_s": median,
        "ratios": ratios,
        "valid": valid,
        "private_simpy_access": private,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"M/M/4, λ=3.2, μ=1, {args.customers:,} customers, median of {args.repeats}, {args.clock} time")
    for name, v in median.items():
        print(f"  {name:8s} {v:>12,.0f} customers/s")
    targets = {
        "full_over_callback": TARGET_FULL_OVER_CALLBACK,
        "coarse_over_callback": TARGET_FULL_OVER_CALLBACK,
        "full_over_simpy": TARGET_FULL_OVER_SIMPY,
        "coarse_over_simpy": TARGET_FULL_OVER_SIMPY,
        "plain_over_ciw": TARGET_PLAIN_OVER_CIW,
        "callback_over_simpy": VALID_CALLBACK_OVER_SIMPY,
    }
    for key, v in ratios.items():
        verdict = "meets" if v >= targets[key] else "MISSES"
        if key == "callback_over_simpy":
            verdict = "valid run" if valid else "INVALID run: the baselines were disturbed"
        print(f"  {key:20s} {v:6.2f}  ({verdict}, needs >= {targets[key]})")
    if private:
        print(f"  private SimPy access in sim/: {len(private)} site(s): {', '.join(private)}")
    else:
        print("  private SimPy access in sim/: none (the ratios above are public-API figures)")
    return 0 if valid else 1


if __name__ == "__main__":
    raise SystemExit(main())
