"""``rwb sweep``: a scenario over a parameter grid x seeds, checkpointed to Parquet, resumable."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from sim.cli.common import EXIT_OK, add_set_option, errors, file_problem, load_with_sets, size_check

__all__ = ["add_batch_options", "add_parser", "command", "make_executor", "seed_list"]

HEADLINE = ("success_ratio", "amplification", "latency_p99", "p99_after_fault", "recovery_seconds")


def seed_list(text: str) -> list[int]:
    """``0..9`` (inclusive), ``0,3,7``, ``5`` or a mix such as ``0..4,10`` -> the seeds, in order."""
    out: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", part)
        if not m:
            raise argparse.ArgumentTypeError(f"must be seeds such as 0..9, 1,2,5 or 0..4,10; not {text!r}")
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else int(m.group(2))
        if hi < lo:
            raise argparse.ArgumentTypeError(f"range {part.strip()!r} ends before it starts")
        out.extend(s for s in range(lo, hi + 1) if s not in out)
    return out


def workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {text!r}")
    return value


def add_batch_options(p: argparse.ArgumentParser) -> None:
    """The options of every many-run subcommand: ``--workers N`` (local process pool), ``--scheduler
    ADDRESS`` (a Dask cluster), ``--force`` and ``--set PATH=VALUE``."""
    p.add_argument("--workers", type=workers, default=None, help="local worker processes (None: one per CPU)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster instead (e.g. tcp://10.0.0.5:8786), through Client.get_executor()",
    )
    p.add_argument("--force", action="store_true", help="run even when the estimate says it is too large")
    add_set_option(p)


def make_executor(args: argparse.Namespace) -> tuple[Executor, Callable[[], None]]:
    """The executor the options ask for and the function that releases it."""
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)  # type: ignore[no-untyped-call]
        return client.get_executor(), client.close  # type: ignore[no-untyped-call]
    pool = ProcessPoolExecutor(max_workers=args.workers)
    return pool, lambda: pool.shutdown(cancel_futures=True)


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``sweep`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "sweep",
        help="run a scenario over a parameter grid x seeds (resumable)",
        description=(
            "Run SCENARIO at every combination of the grid file's values with every seed. Each finished "
            "run is saved to --out (Parquet) as it finishes; running the same command again skips the "
            "runs already there (key: the scenario, the seed and the package version).\n\n"
            "Grid file: dotted scenario paths mapped to lists of values, e.g.\n"
            '  "clients.web.retry.max_attempts" = [2, 3, 5]\n'
            '  "clients.web.budget.capacity" = [10, 50, 200]'
        ),
        **common,
    )
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--grid", required=True, metavar="FILE", help="grid TOML file (dotted.path = [values])")
    p.add_argument("--out", default="sweep.parquet", metavar="FILE", help="runs, one row per run (Parquet)")
    p.add_argument("--summary", metavar="FILE", help="also write per-setting means and 95%% intervals (CSV)")
    p.add_argument("--seeds", type=seed_list, default="0..4", help="seeds, e.g. 0..9 or 1,2,5")
    add_batch_options(p)
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """Run the sweep; print per-setting means with intervals; the exit code."""
    from sim.experiments.grid import apply_settings, expand_grid, load_grid, sweep
    from sim.scenario.loader import ScenarioError

    problems: list[str] = []
    grid = None
    base = load_with_sets(args.scenario, args.set, problems)
    try:
        grid = load_grid(args.grid)
    except ScenarioError as e:
        problems.extend(err.line for err in e.errors)
    for flag, path in (("--out", args.out), ("--summary", args.summary)):
        found = None if path is None else file_problem(flag, path)
        if found:
            problems.append(found)
    if base is not None and grid is not None:
        try:
            scenarios = [apply_settings(base, s, args.grid) for s in expand_grid(grid)]
        except ScenarioError as e:
            problems.extend(err.line for err in e.errors)
    if problems or base is None or grid is None:
        return errors(problems)
    refused = size_check(args.scenario, scenarios, args.force)
    if refused:
        return errors(refused)
    ex, close = make_executor(args)
    try:
        result = sweep(
            base, grid, args.seeds, executor=ex, checkpoint=args.out, progress=True, source=args.grid
        )
    finally:
        close()
    if args.summary:
        result.summary.to_csv(args.summary, index=False)
    print(
        f"{len(result.runs)} runs ({len(expand_grid(grid))} settings x {len(args.seeds)} seeds) in {args.out}"
    )
    for metric in HEADLINE:
        table = result.means(metric)
        if table.empty or table["n"].sum() == 0:
            continue
        print(f"\n{metric}: mean [95% interval] over seeds")
        for row in table.to_dict("records"):
            setting = "  ".join(f"{p}={row[p]}" for p in result.params)
            print(f"  {setting}  {row['mean']:.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}] n={row['n']}")
    return EXIT_OK
