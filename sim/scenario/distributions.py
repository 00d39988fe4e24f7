"""Distributions of durations (service times, latencies, think times), sampled in blocks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from resilience._config import Config, non_negative, positive, rule
from sim.model.streams import BlockRandom

__all__ = [
    "Constant",
    "Distribution",
    "Empirical",
    "Exponential",
    "LogNormal",
    "Mixture",
    "MixtureComponent",
    "TruncatedNormal",
    "Uniform",
]

Sampler = Callable[[], float]


class Distribution(Config):
    """A non-negative random duration; ``sampler(gen)`` returns a fast ``() -> float``."""

    __slots__ = ()

    def sampler(self, gen: np.random.Generator) -> Sampler:
        return BlockRandom(lambda n: self.block(gen, n))

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws."""
        raise NotImplementedError

    def expected(self) -> float:
        """The mean of the distribution."""
        raise NotImplementedError

    def can_be_zero(self) -> bool:
        """True when a draw is exactly 0 with positive probability (a duration that may take no time)."""
        return False


@dataclass(frozen=True, slots=True)
class Constant(Distribution):
    """Always ``value`` (zero allowed)."""

    kind = "constant"
    value: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))

    def sampler(self, gen: np.random.Generator) -> Sampler:
        value = self.value
        return lambda: value

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    def expected(self) -> float:
        return self.value

    def can_be_zero(self) -> bool:
        return self.value == 0


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    """Exponential with the given mean."""

    kind = "exponential"
    mean: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.exponential(self.mean, n)

    def expected(self) -> float:
        return self.mean


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    """Uniform on [low, high]."""

    kind = "uniform"
    low: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    high: float = field(default=1.0, metadata=rule(non_negative, "must be >= 0 and finite"))

    def _cross_checks(self) -> None:
        if self.high < self.low:
            raise self._error("high", f"must be >= low ({self.low})")

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.uniform(self.low, self.high, n)

    def expected(self) -> float:
        return (self.low + self.high) / 2.0

    def can_be_zero(self) -> bool:
        return self.high == 0


@dataclass(frozen=True, slots=True)
class TruncatedNormal(Distribution):
    """Normal(mean, std) kept within [low, high] by redrawing, or |x| when ``fold``."""

    kind = "truncated_normal"
    mean: float = field(default=1.0, metadata=rule(math.isfinite, "must be finite"))
    std: float = field(default=0.1, metadata=rule(non_negative, "must be >= 0 and finite"))
    low: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    high: float = field(default=math.inf, metadata=rule(lambda v: v >= 0, "must be >= 0"))
    fold: bool = False

    def _cross_checks(self) -> None:
        if self.high <= self.low:
            raise self._error("high", f"must be > low ({self.low})")
        if not self.fold and self.std == 0 and not (self.low <= self.mean <= self.high):
            raise self._error("mean", f"must be within [low, high] when std is 0 ({self.low}, {self.high})")

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty(0)
        for _ in range(1000):
            x = gen.normal(self.mean, self.std, 2 * n)
            if self.fold:
                x = np.abs(x)
            x = x[(x >= self.low) & (x <= self.high)]
            out = np.concatenate((out, x))
            if len(out) >= n:
                return out[:n]
        raise ValueError(f"truncated_normal: [{self.low}, {self.high}] has almost no probability mass")

    def expected(self) -> float:
        from scipy import stats  # type: ignore[import-untyped]  # scipy ships no type stubs

        if self.std == 0:
            return abs(self.mean) if self.fold else self.mean
        if self.fold:
            return float(
                stats.foldnorm(abs(self.mean) / self.std, scale=self.std).expect(
                    lambda x: x, lb=self.low, ub=self.high, conditional=True
                )
            )
        a, b = (self.low - self.mean) / self.std, (self.high - self.mean) / self.std
        return float(stats.truncnorm(a, b, loc=self.mean, scale=self.std).mean())

    def can_be_zero(self) -> bool:
        return self.std == 0 and self.mean == 0 and self.low == 0


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """exp(N(ln median, sigma))."""

    kind = "lognormal"
    median: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    sigma: float = field(default=0.5, metadata=rule(non_negative, "must be >= 0 and finite"))

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.lognormal(math.log(self.median), self.sigma, n)

    def expected(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2.0)


@dataclass(frozen=True, slots=True)
class MixtureComponent(Config):
    """One weighted part of a mixture."""

    weight: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    dist: Distribution = field(default_factory=Constant)

    def _cross_checks(self) -> None:
        if not isinstance(self.dist, Distribution):
            raise self._error("dist", "must be a distribution")


@dataclass(frozen=True, slots=True)
class Mixture(Distribution):
    """Draws from component i with probability weight_i / Σ weights."""

    kind = "mixture"
    components: tuple[MixtureComponent, ...] = field(
        default=(), metadata=rule(lambda v: len(v) >= 1, "must have at least one component")
    )

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        w = np.array([c.weight for c in self.components])
        which = gen.choice(len(w), size=n, p=w / w.sum())
        out = np.empty(n)
        for i, c in enumerate(self.components):
            mask = which == i
            k = int(mask.sum())
            if k:
                out[mask] = c.dist.block(gen, k)
        return out

    def expected(self) -> float:
        total = sum(c.weight for c in self.components)
        return sum(c.weight * c.dist.expected() for c in self.components) / total

    def can_be_zero(self) -> bool:
        return any(c.dist.can_be_zero() for c in self.components)


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    """Each observed value with equal probability."""

    kind = "empirical"
    values: tuple[float, ...] = field(
        default=(0.0,),
        metadata=rule(
            lambda v: (
                len(v) >= 1
                and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < math.inf for x in v
                )
            ),
            "must be a non-empty list of finite numbers >= 0",
        ),
    )

    def block(self, gen: np.random.Generator, n: int) -> np.ndarray:
        vals = np.asarray(self.values, dtype=float)
        return vals[gen.integers(0, len(vals), n)]

    def expected(self) -> float:
        return float(np.mean(self.values))

    def can_be_zero(self) -> bool:
        return 0 in self.values


ZERO = Constant(0.0)
