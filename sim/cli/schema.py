"""``rwb schema``: print the JSON Schema of scenario files."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim.cli.common import EXIT_OK

__all__ = ["add_parser", "command"]


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``schema`` on the subparsers ``sub``."""
    p = sub.add_parser("schema", help="print the JSON Schema of scenario files", **common)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Print the schema; the exit code."""
    from sim.scenario.schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return EXIT_OK
