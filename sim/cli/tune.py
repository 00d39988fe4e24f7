"""``rwb tune``: search a space of settings with Optuna against the fixed objective; write the best."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.cli.common import (
    EPILOG,
    EXIT_OK,
    errors,
    file_problem,
    load_with_sets,
    seed,
    size_check,
)
from sim.cli.sweep import add_batch_options, make_executor

__all__ = ["EXIT_INFEASIBLE", "add_parser", "command"]

EXIT_INFEASIBLE = 3
TUNE_EPILOG = EPILOG.replace(
    "  130  interrupted",
    f"  {EXIT_INFEASIBLE}    no trial met the constraints (nothing written)\n  130  interrupted",
)


def trials(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {text!r}")
    return value


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``tune`` on the subparsers ``sub``."""
    from sim.experiments.tune import AMPLIFICATION_MAX, OBJECTIVE, SUCCESS_MIN, TUNE_SEEDS

    p = sub.add_parser(
        "tune",
        help="search settings with Optuna: minimal p99 after the fault under constraints",
        description=(
            f'Search the settings of SPACE (a TOML file: [set] fixed settings, [params."dotted.path"] '
            f"dimensions with int/float ranges or choices) with Optuna's TPE sampler. Objective (fixed): "
            f"minimise the mean {OBJECTIVE} over seeds {TUNE_SEEDS[0]}-{TUNE_SEEDS[-1]} subject to mean "
            f"success_ratio >= {SUCCESS_MIN} and mean amplification <= {AMPLIFICATION_MAX}. With --storage "
            "the study is kept in an SQLite file and the same command resumes it."
        ),
        **{**common, "epilog": TUNE_EPILOG},
    )
    p.add_argument("scenario", help="scenario TOML file (the starting point)")
    p.add_argument("--space", required=True, metavar="FILE", help="search-space TOML file")
    p.add_argument("--trials", type=trials, default=30, help="number of trials in the study")
    p.add_argument("--seed", type=seed, default=0, help="seed of the TPE sampler")
    p.add_argument("--out", default="tuned.toml", metavar="FILE", help="scenario file with the best settings")
    p.add_argument(
        "--evidence", metavar="FILE", help="also write the evidence table (one row per trial, CSV)"
    )
    p.add_argument(
        "--storage", metavar="FILE", help="SQLite file keeping the study, so an interrupted run resumes"
    )
    add_batch_options(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run the study; print the best settings and the evidence; write the scenario; the exit code."""
    from sim.experiments.grid import apply_settings
    from sim.experiments.tune import OBJECTIVE, load_space, tune
    from sim.scenario.loader import ScenarioError

    problems: list[str] = []
    space = None
    base = load_with_sets(args.scenario, args.set, problems)
    try:
        space = load_space(args.space)
    except ScenarioError as e:
        problems.extend(err.line for err in e.errors)
    for flag, path in (("--out", args.out), ("--evidence", args.evidence), ("--storage", args.storage)):
        found = None if path is None else file_problem(flag, path)
        if found:
            problems.append(found)
    start = None
    if base is not None and space is not None:
        try:
            start = apply_settings(base, space.fixed, f"{args.space}: [set]")
        except ScenarioError as e:
            problems.extend(err.line for err in e.errors)
    if problems or base is None or space is None or start is None:
        return errors(problems)
    refused = size_check(args.scenario, [start], args.force)
    if refused:
        return errors(refused)
    ex, close = make_executor(args)
    try:
        result = tune(
            base, space, args.trials, seed=args.seed, storage=args.storage, executor=ex, progress=True
        )
    finally:
        close()
    ev = result.evidence
    if args.evidence:
        ev.to_csv(args.evidence, index=False)
    feasible = int(ev["feasible"].sum()) if len(ev) else 0
    print(f"{len(ev)} trials, {feasible} feasible (study {result.study_name})")
    shown = [c for c in ("trial", OBJECTIVE, "success_ratio", "amplification", "feasible") if c in ev]
    if len(ev):
        ranked = ev.sort_values(["feasible", OBJECTIVE], ascending=[False, True]) if OBJECTIVE in ev else ev
        print(ranked[shown].head(10).to_string(index=False))
    if result.best is None:
        print("error: no trial met the constraints; nothing written", file=sys.stderr)
        return EXIT_INFEASIBLE
    print(f"best mean {OBJECTIVE}: {result.best_value:.6g} s with")
    for k, v in result.best.items():
        print(f"  {k} = {v!r}")
    try:
        Path(args.out).write_text(result.scenario_toml(), encoding="utf-8")
    except OSError as e:
        return errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
    print(f"tuned scenario: {args.out}")
    return EXIT_OK
