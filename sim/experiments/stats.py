"""Replications and confidence intervals for the statistical checks of truth."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.scenario.spec import Scenario

__all__ = ["binomial_bound", "replicate", "summary_of", "t_interval"]


def t_interval(values: Sequence[float], level: float = 0.99) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval at ``level`` over replications."""
    from scipy.stats import t  # type: ignore[import-untyped]

    n = len(values)
    if n < 2:
        raise ValueError("a confidence interval needs at least 2 replications")
    mean = statistics.fmean(values)
    sd = statistics.stdev(values)
    return mean, float(t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)


def binomial_bound(p: float, n: int, z: float = 4.5) -> float:
    """``z`` standard deviations of a proportion estimated from ``n`` independent trials."""
    return z * math.sqrt(max(p * (1.0 - p), 0.0) / n)


def summary_of(scenario: Scenario, seed: int) -> dict[str, Any]:
    """One run's summary (a top-level function, so process pools can call it)."""
    from sim import run

    return dict(run(scenario, seed=seed).summary)


def replicate(
    scenario: Scenario,
    seeds: Iterable[int],
    executor: Executor | None = None,
    run: Callable[[Scenario, int], dict[str, Any]] = summary_of,
) -> list[dict[str, Any]]:
    """Summaries of independent replications, one per seed, in seed order."""
    seeds = list(seeds)
    if executor is None:
        return [run(scenario, s) for s in seeds]
    return list(executor.map(run, [scenario] * len(seeds), seeds))
