"""Parameter grids x seeds: grid files, the ``sweep`` API and per-setting means with confidence intervals.

A grid file maps dotted scenario paths to lists of values; the sweep runs every combination
(the Cartesian product) with every seed::

    "clients.web.retry.max_attempts" = [1, 2, 3]
    "clients.web.budget.capacity" = [10, 50, 200]
    "clients.web.retry.backoff" = [{ type = "constant" }, { type = "exponential", base = 0.05 }]

Bare dotted keys and ``[tables]`` nest in TOML; they are read the same way (a path ends at a list).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario.loader import ScenarioError
from sim.scenario.spec import Scenario
from sim.sweep import META, RunFn, run_row, sweep_runs

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SweepResult", "apply_settings", "expand_grid", "load_grid", "summarise", "sweep"]

LEVEL = 0.95


def _leaves(data: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, v in data.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            _leaves(v, path, out)
        else:
            out[path] = v


def grid_from_dict(data: Mapping[str, Any], source: str = "<grid>") -> dict[str, list[Any]]:
    """Validate a grid: every dotted path maps to a non-empty list of values."""
    flat: dict[str, Any] = {}
    _leaves(data, "", flat)
    problems = []
    for path, values in flat.items():
        if not isinstance(values, list):
            problems.append(ScenarioError(source, path, values, "must be a list of values to sweep"))
        elif not values:
            problems.append(ScenarioError(source, path, values, "must list at least one value"))
    if not flat:
        problems.append(ScenarioError(source, "", None, "names no parameter (dotted.path = [values])"))
    if problems:
        raise ScenarioError(
            problems[0].source, problems[0].path, problems[0].value, problems[0].rule, more=problems[1:]
        )
    return {k: list(v) for k, v in flat.items()}


def load_grid(path: str | Path) -> dict[str, list[Any]]:
    """Read a grid TOML file; problems raise ``ScenarioError`` in the scenario-file form."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(source, "", None, "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(source, "", None, f"cannot be read: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(source, "", None, f"not valid TOML: {e}") from None
    return grid_from_dict(data, source)


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in file order (the last path varies fastest)."""
    paths = list(grid)
    return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*(grid[p] for p in paths))]


def apply_settings(base: Scenario, settings: Mapping[str, Any], source: str = "<settings>") -> Scenario:
    """``base`` with the dotted-path ``settings``; a bad one raises ``ScenarioError`` naming ``source``."""
    from sim.scenario.overrides import apply_overrides

    return apply_overrides(base, dict(settings), source=source)


def _cell(v: Any) -> Any:
    """A grid value as a DataFrame cell: scalars as they are, tables and lists as JSON text."""
    return v if v is None or isinstance(v, bool | int | float | str) else json.dumps(v, sort_keys=True)


def _t(values: list[float], level: float) -> tuple[float, float]:
    from scipy.stats import t  # type: ignore[import-untyped]

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    sd = statistics.stdev(values)
    return mean, float(t.ppf(0.5 + level / 2.0, len(values) - 1)) * sd / math.sqrt(len(values))


def metric_columns(runs: pd.DataFrame, params: Iterable[str] = ()) -> list[str]:
    """The numeric measurement columns of a run table (not seeds, keys or parameters)."""
    skip = {*META, *params}
    return [
        c
        for c in runs.columns
        if c not in skip
        and not str(c).startswith(("clients.", "services.", "links.", "faults"))
        and runs[c].dtype.kind in "biuf"
    ]


def summarise(runs: pd.DataFrame, params: Sequence[str], level: float = LEVEL) -> pd.DataFrame:
    """Per setting and metric: ``n``, ``mean`` and the Student-t interval ``ci_low``..``ci_high``.

    Tidy: one row per (setting, metric); runs where a metric is missing (None) are left out of it.
    """
    import pandas as pd

    out = []
    keys = list(params)
    groups = runs.groupby(keys, sort=False, dropna=False) if keys else [((), runs)]
    for setting, g in groups:
        values = setting if isinstance(setting, tuple) else (setting,)
        for m in metric_columns(runs, keys):
            xs = [float(x) for x in g[m].tolist() if x is not None and not math.isnan(float(x))]
            mean, half = _t(xs, level) if xs else (math.nan, math.nan)
            out.append(
                {
                    **dict(zip(keys, values, strict=True)),
                    "metric": m,
                    "n": len(xs),
                    "mean": mean,
                    "ci_low": mean - half,
                    "ci_high": mean + half,
                }
            )
    return pd.DataFrame(out)


@dataclass(frozen=True)
class SweepResult:
    """``runs``: one row per (setting, seed); ``summary``: per setting and metric, mean and 95% interval."""

    runs: pd.DataFrame
    summary: pd.DataFrame
    params: tuple[str, ...]

    def means(self, metric: str) -> pd.DataFrame:
        """One row per setting: the parameters, then ``mean``, ``ci_low``, ``ci_high`` of ``metric``."""
        s = self.summary
        return s[s.metric == metric].drop(columns="metric").reset_index(drop=True)


def sweep(
    base: Scenario,
    grid: Mapping[str, Sequence[Any]],
    seeds: Iterable[int] = range(5),
    *,
    executor: Executor | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    run: RunFn = run_row,
    source: str = "<grid>",
) -> SweepResult:
    """Run ``base`` at every grid setting with every seed on ``executor`` (a local process pool when
    None; any ``concurrent.futures.Executor``, e.g. a Dask ``Client.get_executor()``).

    With ``checkpoint`` (a Parquet file) finished runs are saved as they finish and runs found there
    are not repeated, so an interrupted sweep resumes where it stopped.
    """
    grid = grid_from_dict(dict(grid), source)
    seeds = list(seeds)
    settings = expand_grid(grid)
    scenarios = [apply_settings(base, s, source) for s in settings]
    jobs = [
        (sc, seed, {p: _cell(v) for p, v in s.items()})
        for sc, s in zip(scenarios, settings, strict=True)
        for seed in seeds
    ]
    runs = sweep_runs(jobs, executor=executor, checkpoint=checkpoint, progress=progress, run=run)
    params = tuple(grid)
    return SweepResult(runs=runs, summary=summarise(runs, params), params=params)
