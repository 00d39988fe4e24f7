"""``rwb``: run scenarios, print the scenario JSON Schema, run the retry-storm demo.

Every failure ends in ``error:`` lines on stderr (one per independent error) and a
documented exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from .result import RunResult
    from .scenario import Scenario

__all__ = ["DEFAULT_SEED", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

DEFAULT_SEED = 1
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141

EPILOG = """\
exit codes:
  0    success
  1    internal error (a bug; the error line names the exception)
  2    bad input: arguments, scenario file, output path, or a run refused as too large
  130  interrupted (Ctrl-C)
  141  output pipe closed"""


class _Usage(Exception):
    """A command-line argument is wrong (argparse's message)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{message} (see {self.prog} --help)")


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the epilog's layout."""


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 and finite, not {text!r}")
    return value


# -- output paths, checked before a run -----------------------------------------------------
def _file_problem(flag: str, path: str) -> str | None:
    p = Path(path)
    where = f"{flag}={path!r}"
    if p.is_dir():
        return f"{where}: is a directory; give a file name"
    parent = p.parent
    if not parent.exists():
        return f"{where}: directory {str(parent)!r} does not exist"
    if not parent.is_dir():
        return f"{where}: {str(parent)!r} is not a directory"
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        return f"{where}: is not writable"
    return None


def _dir_problem(flag: str, path: str) -> str | None:
    p = Path(path)
    where = f"{flag}={path!r}"
    if p.exists() and not p.is_dir():
        return f"{where}: exists and is not a directory"
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{where}: {str(existing)!r} is not a directory"
    if not os.access(existing, os.W_OK):
        return f"{where}: {str(existing)!r} is not writable"
    return None


def _errors(lines: list[str]) -> int:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return EXIT_USAGE


def _size_check(label: str, scenarios: list[Scenario], force: bool) -> list[str]:
    """Refusals (empty when the run may go ahead); warnings are printed here."""
    from .estimate import available_memory, estimate, limit_problems

    memory = available_memory()
    refused: list[str] = []
    for sc in scenarios:
        est = estimate(sc)
        refuse, warn = limit_problems(est, memory)
        if refuse and not force:
            refused.extend(
                f"{label}: run refused before it starts: {r} ({est.describe()}); --force runs it anyway"
                for r in refuse
            )
        for w in [*refuse, *warn] if force else warn:
            print(f"warning: {label}: {w} ({est.describe()})", file=sys.stderr)
    return refused


# -- commands -----------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    from .engine import run
    from .loader import ScenarioError, load_scenario

    problems: list[str] = []
    scenario = None
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as e:
        problems.extend(err.line for err in e.errors)
    for flag, path in (("--series", args.series), ("--bins", args.bins)):
        found = None if path is None else _file_problem(flag, path)
        if found:
            problems.append(found)
    if problems or scenario is None:
        return _errors(problems)
    refused = _size_check(args.scenario, [scenario], args.force)
    if refused:
        return _errors(refused)
    result = run(scenario, args.seed, progress=args.progress)
    try:
        if args.series:
            result.write_series(args.series)
        if args.bins:
            result.bins.to_csv(args.bins, index=False)
    except OSError as e:
        return _errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
    print(result.to_json(timing=True) if args.json else _text(result))
    return EXIT_OK


def _text(result: RunResult) -> str:
    s = result.summary
    lat = s["latency_seconds"]
    rate = result.timing["events_per_second"]
    speed = "" if rate is None else f" ({rate:,.0f} events/s)"
    return "\n".join(
        [
            f"{s['scenario']} seed={s['seed']} simulated {s['sim_seconds']:.1f} s,"
            f" {s['events']} events{speed}",
            f"  requests {s['requests']}  attempts {s['attempts']}  amplification {s['amplification']}",
            f"  successes {s['successes']}  success_ratio {s['success_ratio']}"
            f"  goodput_ratio {s['goodput_ratio']}",
            f"  failures {json.dumps(s['failures'])}  degraded {json.dumps(s['degraded'])}  "
            f"in flight at end {s['in_flight_at_end']}",
            f"  latency mean {lat['mean']} p50 {lat['p50']} p99 {lat['p99']}",
            f"  recovery_seconds {s['recovery_seconds']}",
        ]
    )


def _schema(args: argparse.Namespace) -> int:
    from .schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from .demo import demo_scenarios, run_scenarios, table
    from .loader import ScenarioError

    problems: list[str] = []
    scenarios: list[Scenario] = []
    try:
        scenarios = demo_scenarios(args.duration)
    except ScenarioError as e:
        problems.extend(err.line for err in e.errors)
    found = _dir_problem("--out", args.out)
    if found:
        problems.append(found)
    if problems:
        return _errors(problems)
    refused = _size_check("demo", scenarios, args.force)
    if refused:
        return _errors(refused)
    try:
        results, report = run_scenarios(scenarios, Path(args.out), seed=args.seed, progress=True)
    except OSError as e:
        return _errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
    print(table(results))
    print(f"report: {report}")
    return EXIT_OK


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resilience-workbench")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> _Parser:
    parser = _Parser(
        prog="rwb", description="Resilience Workbench simulator", epilog=EPILOG, formatter_class=_Help
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = {"epilog": EPILOG, "formatter_class": _Help}
    p = sub.add_parser("run", help="run a scenario file", description="Run a scenario file.", **common)
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--seed", type=_seed, default=DEFAULT_SEED, help="run seed (an integer >= 0)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (plus a timing block)")
    p.add_argument("--series", metavar="FILE", help="write the metric series as OpenMetrics text")
    p.add_argument("--bins", metavar="FILE", help="write the time bins as CSV")
    p.add_argument("--progress", action="store_true", help="show a progress bar (simulated seconds)")
    p.add_argument("--force", action="store_true", help="run even when the estimate says it is too large")
    p.set_defaults(func=_run)
    p = sub.add_parser("schema", help="print the JSON Schema of scenario files", **common)
    p.set_defaults(func=_schema)
    p = sub.add_parser(
        "demo",
        help="retry storm under an overload spike: naive vs resilient",
        description="Retry storm under an overload spike: naive vs resilient clients, an HTML report.",
        **common,
    )
    p.add_argument("--out", default="demo-out", help="directory for the HTML report")
    p.add_argument("--seed", type=_seed, default=DEFAULT_SEED, help="run seed (an integer >= 0)")
    p.add_argument(
        "--duration", type=_seconds, default=None, help="shorten the runs to this many simulated seconds"
    )
    p.add_argument("--force", action="store_true", help="run even when the estimate says it is too large")
    p.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rwb`` command; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        return int(args.func(args))
    except _Usage as e:
        return _errors([str(e)])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's final flush quiet
        return EXIT_PIPE
    except Exception as e:
        print(f"error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
