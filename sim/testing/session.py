"""Regression simulations for a test session: runs cached per (scenario, seed), baselines on files."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.testing.baselines import Tolerance, check_baseline
from sim.testing.runs import Runs

if TYPE_CHECKING:
    from sim.scenario.spec import Scenario

__all__ = ["BASELINE_METRICS", "Regression", "parse_seeds", "scenario_key"]

BASELINE_METRICS: tuple[str, ...] = (
    "success_ratio",
    "goodput_ratio",
    "amplification",
    "recovery_seconds",
    "latency_seconds.p99",
)
"""The metrics a baseline records unless the test names others."""

_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def parse_seeds(text: str, option: str = "--rwb-seeds") -> tuple[int, ...]:
    """Seeds from ``A..B`` (inclusive) or a comma-separated list; ``ValueError`` names the rule."""
    rule = "expected A..B (inclusive) or a comma-separated list of integers, with at least 2 seeds"
    try:
        if ".." in text:
            a, b = (int(x) for x in text.split("..", 1))
            seeds = tuple(range(a, b + 1))
        else:
            seeds = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{option}={text}: {rule}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"{option}={text}: {rule}, distinct and >= 0")
    return seeds


def scenario_key(scenario: Scenario) -> str:
    """The canonical JSON of a scenario: equal scenarios give equal keys."""
    return json.dumps(scenario.to_dict(), sort_keys=True, separators=(",", ":"), default=repr)


def _simulate(scenario: Scenario, seed: int) -> dict[str, Any]:
    from sim.engine import run

    return dict(run(scenario, seed).summary)


class Regression:
    """The ``rwb`` fixture: run scenarios over seeds (each run once per session), check baselines."""

    def __init__(
        self,
        root: Path,
        seeds: Sequence[int],
        baseline_dir: Path,
        update_baselines: bool = False,
        simulate: Callable[[Scenario, int], dict[str, Any]] = _simulate,
    ) -> None:
        self.root = root
        self.seeds: tuple[int, ...] = tuple(seeds)
        self.baseline_dir = baseline_dir
        self.update_baselines = update_baselines
        self._simulate = simulate
        self._cache: dict[tuple[str, int], dict[str, Any]] = {}
        self._loaded: dict[Path, Scenario] = {}
        self.runs_simulated = 0
        """Runs simulated in this session."""
        self.runs_from_cache = 0
        """Runs answered from the session cache instead."""
        self.baselines_written: list[Path] = []

    def scenario(self, scenario: Scenario | str | os.PathLike[str]) -> Scenario:
        """A scenario itself, or loaded from a TOML file (relative paths start at pytest's rootdir)."""
        from sim.scenario.spec import Scenario

        if isinstance(scenario, Scenario):
            return scenario
        path = Path(scenario)
        if not path.is_absolute():
            path = self.root / path
        if path not in self._loaded:
            from sim.scenario.loader import load_scenario

            self._loaded[path] = load_scenario(path)
        return self._loaded[path]

    def run(self, scenario: Scenario | str | os.PathLike[str], seeds: Iterable[int] | None = None) -> Runs:
        """``scenario`` over ``seeds`` (default ``--rwb-seeds``); a (scenario, seed) runs once a session."""
        chosen = self.seeds if seeds is None else tuple(seeds)
        if len(chosen) < 2 or len(set(chosen)) != len(chosen):
            raise ValueError(f"seeds={list(chosen)}: an interval of the mean needs at least 2 distinct seeds")
        sc = self.scenario(scenario)
        key = scenario_key(sc)
        out = []
        for seed in chosen:
            summary = self._cache.get((key, seed))
            if summary is None:
                summary = self._simulate(sc, seed)
                self._cache[(key, seed)] = summary
                self.runs_simulated += 1
            else:
                self.runs_from_cache += 1
            out.append(copy.deepcopy(summary))
        return Runs(sc.name, chosen, out, hashlib.sha256(key.encode()).hexdigest())

    def check_baseline(
        self,
        runs: Runs,
        name: str,
        metrics: Sequence[str] = BASELINE_METRICS,
        tolerance: Tolerance | Mapping[str, Tolerance] | None = None,
    ) -> None:
        """Compare ``runs`` with the baseline file ``<baseline dir>/<name>.json`` (refreshed instead
        under ``--rwb-update-baselines``). ``tolerance`` (one for all, or per metric; default
        ``Tolerance()``, 5% relative) is written for metrics new to the file; the file's own win after."""
        __tracebackhide__ = True
        if not _NAME.fullmatch(name):
            raise ValueError(f"name={name!r}: must be letters, digits, '_', '.' or '-'")
        path = self.baseline_dir / f"{name}.json"
        if tolerance is None or isinstance(tolerance, Tolerance):
            tols = {m: tolerance or Tolerance() for m in metrics}
        else:
            tols = {m: tolerance.get(m, Tolerance()) for m in metrics}
        if check_baseline(path, runs, list(metrics), tols, self.update_baselines):
            self.baselines_written.append(path)
