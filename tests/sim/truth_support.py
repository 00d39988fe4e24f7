"""Shared helpers of the checks of truth: scenario files, cached runs, a 2-process pool."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sim.scenario.loader import load_scenario
from sim.scenario.spec import Scenario

ROOT = Path(__file__).resolve().parents[2]
TRUTH = ROOT / "scenarios" / "truth"
SEED = 20150304  # the day the AWS jitter post was published; fixed, never changed to make a test pass


def truth_scenario(name: str) -> Scenario:
    return load_scenario(TRUTH / f"{name}.toml")


@functools.lru_cache(maxsize=32)
def cached_summary(name: str, seed: int = SEED) -> dict[str, Any]:
    """The summary of one truth scenario file, run once per test session."""
    from sim import run

    return dict(run(truth_scenario(name), seed=seed).summary)


def pool() -> ProcessPoolExecutor:
    """A pool sized for the CI machine (2 cores)."""
    return ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1))


def rel(measured: float, exact: float) -> float:
    return abs(measured - exact) / abs(exact)
