"""``rwb compare``: two scenario files on the same seeds, paired differences with 95% intervals."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from sim.cli.common import EPILOG, EXIT_OK, errors, file_problem, load_with_sets, size_check
from sim.cli.sweep import add_batch_options, make_executor, seed_list

if TYPE_CHECKING:
    from sim.experiments.compare import FailIf
    from sim.scenario.spec import Scenario

__all__ = ["EXIT_FAIL_IF", "add_parser", "command"]

EXIT_FAIL_IF = 3
COMPARE_EPILOG = EPILOG.replace(
    "  130  interrupted",
    f"  {EXIT_FAIL_IF}    a --fail-if condition held (the gate failed)\n  130  interrupted",
)


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``compare`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "compare",
        help="compare two scenarios on the same seeds (paired differences)",
        description=(
            "Run A and B with the same seeds (common random numbers: components with the same name draw "
            "the same random numbers on both sides) and report, per metric, both means and the mean of "
            "the per-seed differences B - A with its 95% Student-t interval.\n\n"
            "--fail-if 'METRIC<BOUND' (also >, <=, >=) exits with status 3 when the mean difference B - A "
            "of METRIC satisfies the condition; 'a.METRIC' or 'b.METRIC' test one side's mean instead, "
            "e.g. --fail-if 'b.success_ratio<0.99' --fail-if 'latency_p99>0.01'."
        ),
        **{**common, "epilog": COMPARE_EPILOG},
    )
    p.add_argument("a", metavar="A", help="scenario TOML file (the baseline)")
    p.add_argument("b", metavar="B", help="scenario TOML file (the candidate)")
    p.add_argument("--seeds", type=seed_list, default="0..9", help="seeds, e.g. 0..9 or 1,2,5")
    p.add_argument("--html", metavar="OUT", help="write an HTML report with the time series overlaid")
    p.add_argument("--csv", metavar="OUT", help="write the table of paired differences as CSV")
    p.add_argument(
        "--fail-if", action="append", default=[], metavar="EXPR", help="exit 3 when EXPR holds; repeatable"
    )
    add_batch_options(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run both sides, print the table; the exit code."""
    from sim.experiments.compare import compare, parse_fail_if

    problems: list[str] = []
    sides: list[Scenario] = []
    for path in (args.a, args.b):
        side = load_with_sets(path, args.set, problems)
        if side is not None:
            sides.append(side)
    rules: list[FailIf] = []
    for text in args.fail_if:
        try:
            rules.append(parse_fail_if(text))
        except ValueError as e:
            problems.append(str(e))
    for flag, path in (("--html", args.html), ("--csv", args.csv)):
        found = None if path is None else file_problem(flag, path)
        if found:
            problems.append(found)
    if problems:
        return errors(problems)
    if len(args.seeds) < 2:
        return errors([f"--seeds={args.seeds}: a paired interval needs at least 2 seeds"])
    refused = size_check(args.a, sides[:1], args.force) + size_check(args.b, sides[1:], args.force)
    if refused:
        return errors(refused)
    ex, close = make_executor(args)
    try:
        result = compare(sides[0], sides[1], args.seeds, executor=ex)
    finally:
        close()
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    unknown = [r for r in rules if r.metric not in set(result.table.metric)]
    if unknown:
        known = ", ".join(result.table.metric)
        return errors([f"--fail-if {r.text!r}: unknown metric {r.metric!r}; known: {known}" for r in unknown])
    print(f"A: {args.a}\nB: {args.b}")
    print(result.text())
    try:
        if args.html:
            print(f"report: {result.write_html(args.html)}")
        if args.csv:
            result.table.to_csv(args.csv, index=False)
    except OSError as e:
        return errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
    failed = result.violated(rules)
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return EXIT_FAIL_IF if failed else EXIT_OK
