"""``rwb run``: run one scenario file; print its summary, write its series and bins."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sim.cli.common import (
    DEFAULT_SEED,
    EXIT_OK,
    add_set_option,
    errors,
    file_problem,
    load_with_sets,
    seed,
    size_check,
)

if TYPE_CHECKING:
    from sim.observe.result import RunResult
    from sim.scenario.spec import Scenario

__all__ = ["add_epoch_options", "add_parser", "command", "epoch", "with_epoch"]

NOW = "now"


def epoch(text: str) -> str | int:
    """``now`` or an RFC 3339 time with a zone (``2026-05-01T12:00:00Z``) -> Unix seconds."""
    if text == NOW:
        return NOW
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'now' or an RFC 3339 time such as 2026-05-01T12:00:00Z, not {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"must name its time zone (Z or +hh:mm), not {text!r}")
    value = moment.timestamp()
    if not 0 <= value < 2**40:
        raise argparse.ArgumentTypeError(f"must be after 1970-01-01T00:00:00Z, not {text!r}")
    return math.floor(value)


def with_epoch(scenario: Scenario, value: str | int | None) -> Scenario:
    """``scenario`` with its series epoch replaced; ``now`` places the run so that it ends now."""
    if value is None:
        return scenario
    start = math.floor(time.time() - scenario.duration) if value == NOW else int(value)
    return dataclasses.replace(scenario, epoch=start)


def add_epoch_options(p: argparse.ArgumentParser) -> None:
    """``--epoch`` and ``--run-label``: where the series sit in time and which run they name."""
    p.add_argument(
        "--epoch",
        type=epoch,
        metavar="now|RFC3339",
        help="time of simulated t=0 in the series, overriding the scenario's epoch; "
        "'now' places the run so that it ends now (whole seconds)",
    )
    p.add_argument(
        "--run-label", metavar="LABEL", help="value of the series' run label (default <scenario>-<seed>)"
    )


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``run`` on the subparsers ``sub``."""
    p = sub.add_parser("run", help="run a scenario file", description="Run a scenario file.", **common)
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--seed", type=seed, default=DEFAULT_SEED, help="run seed (an integer >= 0)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (plus a timing block)")
    p.add_argument("--series", metavar="FILE", help="write the metric series as OpenMetrics text")
    p.add_argument("--bins", metavar="FILE", help="write the time bins as CSV")
    add_epoch_options(p)
    p.add_argument("--progress", action="store_true", help="show a progress bar (simulated seconds)")
    p.add_argument("--force", action="store_true", help="run even when the estimate says it is too large")
    add_set_option(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run the scenario; the exit code."""
    from sim.engine import run

    problems: list[str] = []
    scenario = load_with_sets(args.scenario, args.set, problems)
    for flag, path in (("--series", args.series), ("--bins", args.bins)):
        found = None if path is None else file_problem(flag, path)
        if found:
            problems.append(found)
    if args.run_label is not None and not (args.run_label.strip() and args.run_label.isprintable()):
        problems.append(f"--run-label={args.run_label!r}: must be a non-empty string of printable characters")
    if problems or scenario is None:
        return errors(problems)
    scenario = with_epoch(scenario, args.epoch)
    refused = size_check(args.scenario, [scenario], args.force)
    if refused:
        return errors(refused)
    result = run(scenario, args.seed, progress=args.progress, run_label=args.run_label)
    try:
        if args.series:
            result.write_series(args.series)
        if args.bins:
            result.bins.to_csv(args.bins, index=False)
    except OSError as e:
        return errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
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
