"""``rwb demo``: a retry storm under an overload spike, naive vs resilient clients, an HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.common import DEFAULT_SEED, EXIT_OK, dir_problem, errors, seconds, seed, size_check

if TYPE_CHECKING:
    from sim.scenario.spec import Scenario

__all__ = ["add_parser", "command"]


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``demo`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "demo",
        help="retry storm under an overload spike: naive vs resilient",
        description="Retry storm under an overload spike: naive vs resilient clients, an HTML report.",
        **common,
    )
    p.add_argument("--out", default="demo-out", help="directory for the HTML report")
    p.add_argument("--seed", type=seed, default=DEFAULT_SEED, help="run seed (an integer >= 0)")
    p.add_argument(
        "--duration", type=seconds, default=None, help="shorten the runs to this many simulated seconds"
    )
    p.add_argument(
        "--plotly",
        choices=("inline", "cdn"),
        default="inline",
        help="embed plotly.js in the report (opens offline) or load it from the CDN (a smaller file)",
    )
    p.add_argument("--force", action="store_true", help="run even when the estimate says it is too large")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run both demo scenarios and write the report; the exit code."""
    from sim.demo import demo_scenarios, run_scenarios, table
    from sim.scenario.loader import ScenarioError

    problems: list[str] = []
    scenarios: list[Scenario] = []
    try:
        scenarios = demo_scenarios(args.duration)
    except ScenarioError as e:
        problems.extend(err.line for err in e.errors)
    found = dir_problem("--out", args.out)
    if found:
        problems.append(found)
    if problems:
        return errors(problems)
    refused = size_check("demo", scenarios, args.force)
    if refused:
        return errors(refused)
    try:
        results, report = run_scenarios(
            scenarios, Path(args.out), seed=args.seed, progress=True, plotly=args.plotly
        )
    except OSError as e:
        return errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
    print(table(results))
    print(f"report: {report}")
    return EXIT_OK
