"""The seed's chapter 5 tables: calibration, per-layer p99, recovery (static vs defended), sensitivity.

Runs ``scenarios/chapter5/static.toml`` and ``defended.toml`` over seeds in a process pool and prints
every table as Markdown, then the speed: wall seconds per simulated second and events per second.

    .venv/bin/python benchmarks/chapter5.py [--seeds 5] [--sensitivity-seeds 1] [--workers 2]
                                            [--scale 1.0] [--quick] [--out out/chapter5]

``--scale 0.1`` runs the model at 1/10 of the files' scale (``sim.experiments.chapter5.scaled``:
rates, IPs, pools, connection limits, cache keys; per-request times, timeouts and breakers as they
are). ``--quick``: two seeds, no sensitivity table. Exit codes: 0 done, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim import load_scenario  # noqa: E402
from sim.experiments.chapter5 import tables  # noqa: E402

SCENARIOS = ROOT / "scenarios" / "chapter5"


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 0")
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=_positive, default=5, help="seeds per configuration (default 5)")
    p.add_argument(
        "--sensitivity-seeds",
        type=_positive,
        default=1,
        help="seeds per ±20%% variant (0: none)",
    )
    p.add_argument("--workers", type=_positive, default=2, help="processes (default 2)")
    p.add_argument("--scale", type=float, default=1.0, help="scale of the model (default 1: the issue's)")
    p.add_argument("--quick", action="store_true", help="2 seeds, no sensitivity table")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "chapter5", help="where to write the tables")
    args = p.parse_args(argv)
    seeds = 2 if args.quick else args.seeds
    sens = 0 if args.quick else args.sensitivity_seeds
    if not 0.0 < args.scale <= 1.0:
        p.error(f"--scale {args.scale}: must be in (0, 1]")
    if seeds < 2:
        p.error("--seeds must be >= 2 (the recovery interval needs two runs per configuration)")
    static = load_scenario(SCENARIOS / "static.toml")
    defended = load_scenario(SCENARIOS / "defended.toml")
    t0 = time.perf_counter()
    result = tables(
        static,
        defended,
        seeds=range(1, seeds + 1),
        sensitivity_seeds=range(1, sens + 1) if sens else None,
        workers=max(1, args.workers),
        scale=args.scale,
    )
    wall = time.perf_counter() - t0
    path = result.write(args.out)
    print(result.markdown())
    print(
        f"{len(result.runs)} runs in {wall:.0f} s wall on {max(1, args.workers)} processes; tables in {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
