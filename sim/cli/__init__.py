"""``rwb``: run scenarios, print the scenario JSON Schema, run the retry-storm demo.

Every failure ends in ``error:`` lines on stderr (one per independent error) and a
documented exit code, never a traceback. Each subcommand lives in its own module.
"""

from __future__ import annotations

import os
import sys

from sim.cli import compare, demo, export, run, schema, sweep, tune
from sim.cli.common import (
    DEFAULT_SEED,
    EPILOG,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_USAGE,
    Help,
    Parser,
    Usage,
    errors,
)

__all__ = ["DEFAULT_SEED", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resilience-workbench")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> Parser:
    parser = Parser(
        prog="rwb", description="Resilience Workbench simulator", epilog=EPILOG, formatter_class=Help
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    common = {"epilog": EPILOG, "formatter_class": Help}
    for subcommand in (run, schema, demo, compare, sweep, tune, export):
        subcommand.add_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rwb`` command; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        return int(args.func(args))
    except Usage as e:
        return errors([str(e)])
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's final flush quiet
        return EXIT_PIPE
    except Exception as e:
        print(f"error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL
