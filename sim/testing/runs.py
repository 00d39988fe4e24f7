"""One scenario's summaries over fixed seeds, and bounds on their mean judged by a 95% interval."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LEVEL", "Interval", "Runs", "metric_value"]

LEVEL = 0.95
"""Confidence level of the interval of the mean that every bound is judged by."""

LABELS = {
    "success_ratio": "success ratio",
    "goodput_ratio": "goodput ratio",
    "amplification": "amplification",
    "recovery_seconds": "recovery time (s)",
    "latency_seconds.p99": "p99 latency (s)",
}


def metric_value(summary: Mapping[str, Any], metric: str) -> float | None:
    """The value of ``metric`` (a dotted path such as ``latency_seconds.p99``) in one run summary."""
    node: Any = summary
    for part in metric.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"metric={metric!r}: no such key in a run summary (at {part!r})")
        node = node[part]
    if node is None:
        return None
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise TypeError(f"metric={metric!r}: must name a number in a run summary, got {node!r}")
    return float(node)


def _g(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class Interval:
    """The mean of a metric over seeds and its two-sided Student-t interval at ``LEVEL``."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float], level: float = LEVEL) -> Interval:
        """Mean ± t(level, n-1) · s / √n; needs at least 2 values."""
        from scipy.stats import t  # type: ignore[import-untyped]

        n = len(values)
        if n < 2:
            raise ValueError(f"an interval of the mean needs at least 2 seeds, got {n}")
        mean = statistics.mean(values)
        half = float(t.ppf(0.5 + level / 2.0, n - 1)) * statistics.stdev(values) / math.sqrt(n)
        return cls(mean, mean - half, mean + half)

    def __str__(self) -> str:
        return f"[{_g(self.low)}, {_g(self.high)}]"


class Runs:
    """The run summaries of one scenario, one per seed, with bound checks over the seeds.

    A bound passes when the 95% interval of the mean over the seeds lies wholly on
    its side (upper end <= an upper bound, lower end >= a lower bound); otherwise the
    check raises ``AssertionError`` naming the mean, the interval, the seeds and the bound.
    """

    def __init__(
        self,
        scenario: str,
        seeds: Sequence[int],
        summaries: Sequence[Mapping[str, Any]],
        fingerprint: str = "",
    ) -> None:
        if len(seeds) != len(summaries):
            raise ValueError(f"{len(seeds)} seeds but {len(summaries)} summaries")
        self.scenario = scenario
        self.fingerprint = fingerprint
        """SHA-256 of the canonical scenario (empty when not known)."""
        self.seeds: tuple[int, ...] = tuple(seeds)
        self.summaries: tuple[Mapping[str, Any], ...] = tuple(summaries)

    def __repr__(self) -> str:
        return f"Runs({self.scenario!r}, seeds={list(self.seeds)})"

    def values(self, metric: str) -> list[float | None]:
        """The metric's value in each run, in seed order (``None`` where the summary has null)."""
        return [metric_value(s, metric) for s in self.summaries]

    def interval(self, metric: str, level: float = LEVEL) -> Interval:
        """The mean over the seeds and its interval; ``ValueError`` if some run has no value."""
        values = self.values(metric)
        missing = [seed for seed, v in zip(self.seeds, values, strict=True) if v is None]
        if missing:
            raise ValueError(f"{self.scenario}: {metric} is null on seeds {_seeds(missing)}")
        return Interval.of([v for v in values if v is not None], level)

    # -- bounds ----------------------------------------------------------------------------
    def assert_below(self, metric: str, bound: float, *, label: str | None = None) -> Interval:
        """Fail unless the interval of the mean of ``metric`` lies wholly at or below ``bound``."""
        __tracebackhide__ = True
        return self._check(metric, bound, upper=True, label=label)

    def assert_above(self, metric: str, bound: float, *, label: str | None = None) -> Interval:
        """Fail unless the interval of the mean of ``metric`` lies wholly at or above ``bound``."""
        __tracebackhide__ = True
        return self._check(metric, bound, upper=False, label=label)

    def assert_recovers_within(self, seconds: float) -> Interval:
        """Every seed recovers, and the interval of the mean recovery time is within ``seconds``."""
        __tracebackhide__ = True
        return self._check("recovery_seconds", seconds, upper=True, label=None, null="never recovered")

    def assert_amplification_below(self, bound: float) -> Interval:
        """The interval of the mean amplification (attempts per request) lies at or below ``bound``."""
        __tracebackhide__ = True
        return self._check("amplification", bound, upper=True, label=None)

    def assert_success_ratio_above(self, bound: float) -> Interval:
        """The interval of the mean success ratio lies at or above ``bound``."""
        __tracebackhide__ = True
        return self._check("success_ratio", bound, upper=False, label=None)

    def assert_p99_below(self, seconds: float) -> Interval:
        """The interval of the mean p99 end-to-end latency of successes lies at or below ``seconds``."""
        __tracebackhide__ = True
        return self._check("latency_seconds.p99", seconds, upper=True, label=None)

    def _check(
        self, metric: str, bound: float, *, upper: bool, label: str | None, null: str = "has no value"
    ) -> Interval:
        __tracebackhide__ = True
        name = label or LABELS.get(metric, metric)
        side = "at or below" if upper else "at or above"
        values = self.values(metric)
        head = f"{self.scenario}: {name} must lie {side} {_g(bound)} over seeds {_seeds(self.seeds)}"
        missing = [seed for seed, v in zip(self.seeds, values, strict=True) if v is None]
        if missing:
            raise AssertionError(
                f"{head}, but it {null} on seeds {_seeds(missing)} ({metric} is null there), "
                f"so no mean can be judged; per-seed values: {_per_seed(self.seeds, values)}."
            )
        iv = Interval.of([v for v in values if v is not None])
        ok = iv.high <= bound if upper else iv.low >= bound
        if ok:
            return iv
        mean_ok = iv.mean <= bound if upper else iv.mean >= bound
        end, end_value = ("upper", iv.high) if upper else ("lower", iv.low)
        if mean_ok:
            why = (
                f"and although the mean {_g(iv.mean)} is on the right side, its {LEVEL:.0%} interval {iv} "
                f"crosses the bound ({end} end {_g(end_value)}): the seeds do not establish it; "
                "add seeds or leave more margin"
            )
        else:
            why = f"but its mean is {_g(iv.mean)} with {LEVEL:.0%} interval {iv}, on the wrong side"
        raise AssertionError(f"{head}, {why}; per-seed values: {_per_seed(self.seeds, values)}.")


def _seeds(seeds: Sequence[int]) -> str:
    return ", ".join(str(s) for s in seeds)


def _per_seed(seeds: Sequence[int], values: Sequence[float | None]) -> str:
    return ", ".join(f"{s}: {'null' if v is None else _g(v)}" for s, v in zip(seeds, values, strict=True))
