"""Shared pieces of the plugin tests: the small scenario, its runs computed directly, a t-interval."""

from __future__ import annotations

import functools
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
import scipy.stats  # type: ignore[import-untyped]

import sim.testing  # noqa: F401

# In-process inner runs drop the modules they import when they end, and numpy's extension
# modules cannot be loaded twice: everything the plugin imports lazily is imported here first.
_ = scipy.stats.t

HERE = Path(__file__).resolve().parent
FLAKY = HERE / "flaky.toml"
SEEDS = (0, 1, 2, 3, 4)  # the plugin's default seeds (0..4)


@functools.lru_cache(maxsize=16)
def direct_summary(seed: int) -> dict[str, Any]:
    """One run of the small scenario through ``sim.run`` itself, not through the plugin."""
    from sim import load_scenario, run

    return dict(run(load_scenario(FLAKY), seed).summary)


def direct_values(metric: str, seeds: tuple[int, ...] = SEEDS) -> list[float]:
    out = []
    for seed in seeds:
        node: Any = direct_summary(seed)
        for part in metric.split("."):
            node = node[part]
        out.append(float(node))
    return out


def t95(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the 95% Student-t interval, from scipy's own interval function."""
    stats = scipy.stats
    mean = statistics.fmean(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    return mean, float(low), float(high)


def g(x: float) -> str:
    """A number as the plugin's messages print it (4 significant digits)."""
    return f"{x:.4g}"


# Plugins unrelated to rwb, blocked in inner runs: they import large packages at the end of
# every in-process run (hypothesis' summary, nbmake's notebook reader), costing seconds each.
UNRELATED = ("-p", "no:hypothesispytest", "-p", "no:nbmake", "-p", "no:anyio", "-p", "no:cacheprovider")


def inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A fresh in-process pytest run in the inner project (plugins from entry points, no conftest)."""
    return pytester.runpytest(*UNRELATED, *args)


def project(pytester: pytest.Pytester) -> Path:
    """A fresh project for an inner pytest run: an empty ini (rootdir) and the small scenario."""
    pytester.makeini("[pytest]\n")
    shutil.copy(FLAKY, pytester.path / "flaky.toml")
    return pytester.path
