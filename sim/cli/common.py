"""Exit codes, error lines, argument types and the checks every ``rwb`` subcommand shares."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from sim.scenario.spec import Scenario

__all__ = [
    "DEFAULT_SEED",
    "EPILOG",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "Help",
    "Parser",
    "Usage",
    "add_set_option",
    "apply_sets",
    "load_with_sets",
    "dir_problem",
    "errors",
    "file_problem",
    "seconds",
    "seed",
    "size_check",
]

SET_HELP = (
    "change a setting of the scenario: dotted path = TOML value (bare words are strings), e.g. "
    "clients.web.breaker.failure_rate_threshold=0.2 or 'faults[0].duration=8'; repeatable"
)

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


class Usage(Exception):
    """A command-line argument is wrong (argparse's message)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise Usage(f"{message} (see {self.prog} --help)")


class Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the epilog's layout."""


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, not {text!r}")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 and finite, not {text!r}")
    return value


# -- output paths, checked before a run -----------------------------------------------------
def file_problem(flag: str, path: str) -> str | None:
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


def dir_problem(flag: str, path: str) -> str | None:
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


def errors(lines: list[str]) -> int:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return EXIT_USAGE


def size_check(label: str, scenarios: list[Scenario], force: bool) -> list[str]:
    """Refusals (empty when the run may go ahead); warnings are printed here."""
    from sim.scenario.estimate import available_memory, estimate, limit_problems

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


# -- --set PATH=VALUE -----------------------------------------------------------------------
def add_set_option(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--set PATH=VALUE`` option (collected in ``args.set``, a list)."""
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help=SET_HELP)


def load_with_sets(path: str, sets: list[str] | None, problems: list[str]) -> Scenario | None:
    """The scenario file at ``path`` with ``sets`` applied; None, its error lines added to ``problems``."""
    from sim.scenario.loader import ScenarioError, load_scenario

    try:
        return apply_sets(load_scenario(path), sets, path)
    except ScenarioError as e:
        problems.extend(err.line for err in e.errors)
        return None


def apply_sets(scenario: Scenario, sets: list[str] | None, source: str) -> Scenario:
    """``scenario`` with every ``PATH=VALUE`` of ``sets`` applied and the result validated.

    Problems raise one ``ScenarioError`` (``<source>: <dotted.path>=<value>: <rule>``, one line per error).
    """
    from sim.scenario.loader import ScenarioError
    from sim.scenario.overrides import apply_overrides, parse_set

    if not sets:
        return scenario
    items: list[tuple[str, object]] = []
    problems: list[ScenarioError] = []
    for text in sets:
        try:
            items.append(parse_set(text, source))
        except ScenarioError as e:
            problems.append(e)
    if problems:
        first, *more = problems
        raise ScenarioError(first.source, first.path, first.value, first.rule, more=more)
    return apply_overrides(scenario, items, source=source)
