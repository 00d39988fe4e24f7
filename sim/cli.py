"""``rwb``: run scenarios, print the scenario JSON Schema, run the retry-storm demo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    from .engine import run
    from .loader import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = run(scenario, args.seed, progress=args.progress)
    if args.series:
        result.write_series(args.series)
    if args.bins:
        result.bins.to_csv(args.bins, index=False)
    if args.json:
        print(result.to_json())
    else:
        s = result.summary
        lat = s["latency_seconds"]
        print(f"{s['scenario']} seed={s['seed']} simulated {s['sim_seconds']:.1f} s")
        print(f"  requests {s['requests']}  attempts {s['attempts']}  amplification {s['amplification']}")
        print(
            f"  successes {s['successes']}  success_ratio {s['success_ratio']}"
            f"  goodput_ratio {s['goodput_ratio']}"
        )
        print(
            f"  failures {json.dumps(s['failures'])}  degraded {json.dumps(s['degraded'])}  "
            f"in flight at end {s['in_flight_at_end']}"
        )
        print(f"  latency mean {lat['mean']} p50 {lat['p50']} p99 {lat['p99']}")
        print(f"  recovery_seconds {s['recovery_seconds']}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from .schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo, table

    results, report = run_demo(Path(args.out), seed=args.seed, duration=args.duration, progress=True)
    print(table(results))
    print(f"report: {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rwb`` command."""
    parser = argparse.ArgumentParser(prog="rwb", description="Resilience Workbench simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a scenario file")
    p.add_argument("scenario")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--series", metavar="FILE", help="write the metric series as OpenMetrics text")
    p.add_argument("--bins", metavar="FILE", help="write the time bins as CSV")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(func=_run)
    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.set_defaults(func=_schema)
    p = sub.add_parser("demo", help="retry storm under an overload spike: naive vs resilient")
    p.add_argument("--out", default="demo-out", help="directory for the HTML report")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=None, help="shorten the runs (seconds)")
    p.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
