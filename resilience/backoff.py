"""Backoff curves and jitter: the delay before retry number n.

A delay is computed from the retry number (1 = first retry), the previous
delay (for decorrelated jitter) and an rng passed in. Nothing here sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._config import Config, non_negative, positive, rule
from .rng import RandomSource

__all__ = [
    "AdditiveJitter",
    "Backoff",
    "ConstantBackoff",
    "DecorrelatedJitter",
    "EqualJitter",
    "ExponentialBackoff",
    "FullJitter",
    "Jitter",
    "LinearBackoff",
    "NoJitter",
    "ProportionalJitter",
]


class Jitter(Config):
    """Randomises a delay ``v``; ``apply`` returns the jittered delay."""

    __slots__ = ()

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class NoJitter(Jitter):
    """The delay as computed."""

    kind = "none"

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        return v


@dataclass(frozen=True, slots=True)
class FullJitter(Jitter):
    """U(0, v)."""

    kind = "full"

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        return v * rng.random()


@dataclass(frozen=True, slots=True)
class EqualJitter(Jitter):
    """v/2 + U(0, v/2)."""

    kind = "equal"

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        half = v / 2.0
        return half + half * rng.random()


@dataclass(frozen=True, slots=True)
class DecorrelatedJitter(Jitter):
    """min(cap, U(base, 3 · previous)); ignores the curve, uses its base and cap."""

    kind = "decorrelated"

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        upper = 3.0 * (previous if previous > 0 else base)
        return min(cap, base + (upper - base) * rng.random())


@dataclass(frozen=True, slots=True)
class ProportionalJitter(Jitter):
    """v · (1 ± ratio), uniform."""

    kind = "proportional"
    ratio: float = field(default=0.1, metadata=rule(lambda v: 0 <= v <= 1, "must be in [0, 1]"))

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        return v * (1.0 + self.ratio * (2.0 * rng.random() - 1.0))


@dataclass(frozen=True, slots=True)
class AdditiveJitter(Jitter):
    """v + U(0, amount) seconds."""

    kind = "additive"
    amount: float = field(default=0.1, metadata=rule(non_negative, "must be >= 0 and finite"))

    def apply(self, v: float, previous: float, base: float, cap: float, rng: RandomSource) -> float:
        return v + self.amount * rng.random()


class Backoff(Config):
    """A delay curve plus a jitter."""

    __slots__ = ()

    base: float
    cap: float
    jitter: Jitter

    def raw(self, retry: int) -> float:
        """The curve's delay before retry ``retry`` (1-based), before jitter."""
        raise NotImplementedError

    def delay(self, retry: int, previous: float, rng: RandomSource) -> float:
        """The jittered delay before retry ``retry``; ``previous`` is the last delay."""
        v = self.raw(retry)
        return self.jitter.apply(v, previous, self.base, self.cap, rng)


_JITTER_DEFAULT = NoJitter()


@dataclass(frozen=True, slots=True)
class ConstantBackoff(Backoff):
    """The same delay before every retry."""

    kind = "constant"
    base: float = field(default=0.1, metadata=rule(non_negative, "must be >= 0 and finite"))
    jitter: Jitter = _JITTER_DEFAULT

    @property
    def cap(self) -> float:  # type: ignore[override]
        return self.base

    def raw(self, retry: int) -> float:
        return self.base


@dataclass(frozen=True, slots=True)
class LinearBackoff(Backoff):
    """base + step · (n - 1), capped."""

    kind = "linear"
    base: float = field(default=0.1, metadata=rule(non_negative, "must be >= 0 and finite"))
    step: float = field(default=0.1, metadata=rule(non_negative, "must be >= 0 and finite"))
    cap: float = field(default=10.0, metadata=rule(positive, "must be > 0 and finite"))
    jitter: Jitter = _JITTER_DEFAULT

    def _cross_checks(self) -> None:
        if self.cap < self.base:
            raise self._error("cap", f"must be >= base ({self.base})")

    def raw(self, retry: int) -> float:
        return min(self.cap, self.base + self.step * (retry - 1))


@dataclass(frozen=True, slots=True)
class ExponentialBackoff(Backoff):
    """min(cap, base · multiplier^(n - 1 + first_exponent)).

    ``first_exponent=1`` makes the first retry wait base · multiplier, as in the
    2015 AWS Architecture Blog experiment.
    """

    kind = "exponential"
    base: float = field(default=0.1, metadata=rule(positive, "must be > 0 and finite"))
    multiplier: float = field(default=2.0, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    cap: float = field(default=10.0, metadata=rule(positive, "must be > 0 and finite"))
    first_exponent: int = field(default=0, metadata=rule(lambda v: 0 <= v <= 64, "must be in 0..64"))
    jitter: Jitter = _JITTER_DEFAULT

    def _cross_checks(self) -> None:
        if self.cap < self.base:
            raise self._error("cap", f"must be >= base ({self.base})")

    def raw(self, retry: int) -> float:
        exponent = retry - 1 + self.first_exponent
        if exponent > 1023:
            return self.cap
        try:
            return min(self.cap, self.base * self.multiplier**exponent)
        except OverflowError:
            return self.cap
