"""Backoff curves and the definition of each jitter; Hypothesis properties for their bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.core import (
    AdditiveJitter,
    ConstantBackoff,
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FullJitter,
    LinearBackoff,
    NoJitter,
    ProportionalJitter,
)


class Fixed:
    """An rng that returns the given draws in turn."""

    def __init__(self, *draws: float) -> None:
        self.draws = list(draws)
        self.calls = 0

    def random(self) -> float:
        self.calls += 1
        return self.draws.pop(0)


# ---------------------------------------------------------------------------
# curves


def test_exponential_curve_doubles_up_to_the_cap() -> None:
    b = ExponentialBackoff(base=0.1, multiplier=2.0, cap=1.0)
    assert [b.raw(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_exponential_first_exponent_shifts_the_curve() -> None:
    b = ExponentialBackoff(base=0.1, multiplier=3.0, cap=100.0, first_exponent=1)
    assert [b.raw(n) for n in (1, 2, 3)] == pytest.approx([0.3, 0.9, 2.7])


def test_exponential_never_overflows() -> None:
    b = ExponentialBackoff(base=1.0, multiplier=10.0, cap=30.0, first_exponent=64)
    assert b.raw(1000) == 30.0
    assert b.raw(10**9) == 30.0
    assert ExponentialBackoff(base=1.0, multiplier=1e300, cap=5.0).raw(3) == 5.0


def test_exponential_multiplier_one_is_constant() -> None:
    b = ExponentialBackoff(base=0.25, multiplier=1.0, cap=1.0)
    assert {b.raw(n) for n in range(1, 50)} == {0.25}


def test_linear_curve_adds_a_step_per_retry_up_to_the_cap() -> None:
    b = LinearBackoff(base=0.5, step=0.25, cap=1.2)
    assert [b.raw(n) for n in range(1, 6)] == pytest.approx([0.5, 0.75, 1.0, 1.2, 1.2])


def test_constant_curve_and_its_cap() -> None:
    b = ConstantBackoff(base=0.3)
    assert [b.raw(n) for n in (1, 2, 100)] == [0.3, 0.3, 0.3]
    assert b.cap == 0.3


def test_no_jitter_draws_nothing() -> None:
    rng = Fixed()
    assert ExponentialBackoff(base=0.1, cap=1.0).delay(3, 0.0, rng) == pytest.approx(0.4)
    assert rng.calls == 0


# ---------------------------------------------------------------------------
# each jitter's definition, with fixed draws


def test_full_jitter_is_uniform_zero_to_v() -> None:
    j = FullJitter()
    assert j.apply(2.0, 0.0, 0.1, 10.0, Fixed(0.0)) == 0.0
    assert j.apply(2.0, 0.0, 0.1, 10.0, Fixed(0.25)) == 0.5
    assert j.apply(2.0, 0.0, 0.1, 10.0, Fixed(0.999)) == pytest.approx(1.998)


def test_equal_jitter_is_half_plus_uniform_half() -> None:
    j = EqualJitter()
    assert j.apply(2.0, 0.0, 0.1, 10.0, Fixed(0.0)) == 1.0
    assert j.apply(2.0, 0.0, 0.1, 10.0, Fixed(0.5)) == 1.5
    assert j.apply(2.0, 0.0, 0.1, 10.0, Fixed(0.999)) == pytest.approx(1.999)


def test_decorrelated_jitter_is_uniform_base_to_three_previous_capped() -> None:
    j = DecorrelatedJitter()
    # U(base, 3·previous): base=0.1, previous=1.0 → U(0.1, 3.0)
    assert j.apply(99.0, 1.0, 0.1, 10.0, Fixed(0.0)) == pytest.approx(0.1)
    assert j.apply(99.0, 1.0, 0.1, 10.0, Fixed(0.5)) == pytest.approx(0.1 + 0.5 * 2.9)
    # capped
    assert j.apply(99.0, 5.0, 0.1, 2.0, Fixed(0.9)) == 2.0
    # no previous delay yet: previous counts as base → U(base, 3·base)
    assert j.apply(99.0, 0.0, 0.1, 10.0, Fixed(1.0 - 1e-12)) == pytest.approx(0.3)


def test_decorrelated_jitter_ignores_the_curve() -> None:
    b = ExponentialBackoff(base=0.1, cap=10.0, jitter=DecorrelatedJitter())
    assert b.delay(10, 1.0, Fixed(0.5)) == pytest.approx(0.1 + 0.5 * 2.9)


def test_proportional_jitter_is_v_times_one_plus_minus_ratio() -> None:
    j = ProportionalJitter(ratio=0.2)
    assert j.apply(1.0, 0.0, 0.1, 10.0, Fixed(0.0)) == pytest.approx(0.8)
    assert j.apply(1.0, 0.0, 0.1, 10.0, Fixed(0.5)) == pytest.approx(1.0)
    assert j.apply(1.0, 0.0, 0.1, 10.0, Fixed(0.75)) == pytest.approx(1.1)


def test_additive_jitter_adds_uniform_amount() -> None:
    j = AdditiveJitter(amount=0.5)
    assert j.apply(1.0, 0.0, 0.1, 10.0, Fixed(0.0)) == 1.0
    assert j.apply(1.0, 0.0, 0.1, 10.0, Fixed(0.5)) == 1.25


def test_delay_feeds_the_curve_value_to_the_jitter() -> None:
    b = LinearBackoff(base=1.0, step=1.0, cap=10.0, jitter=FullJitter())
    assert b.delay(3, 0.0, Fixed(0.5)) == 1.5  # raw(3) = 3.0


def test_seeded_rng_reproduces_delays() -> None:
    b = ExponentialBackoff(jitter=FullJitter())
    first = [b.delay(n, 0.0, random.Random(7)) for n in range(1, 6)]
    again = [b.delay(n, 0.0, random.Random(7)) for n in range(1, 6)]
    assert first == again


# ---------------------------------------------------------------------------
# properties

values = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
retries = st.integers(min_value=1, max_value=2000)


@given(v=values, u=draws)
def test_full_jitter_within_zero_and_v(v: float, u: float) -> None:
    assert 0.0 <= FullJitter().apply(v, 0.0, 0.1, 1e9, Fixed(u)) <= v


@given(v=values, u=draws)
def test_equal_jitter_within_half_and_v(v: float, u: float) -> None:
    d = EqualJitter().apply(v, 0.0, 0.1, 1e9, Fixed(u))
    assert v / 2 <= d <= v


@given(
    base=st.floats(min_value=1e-3, max_value=10.0),
    factor=st.floats(min_value=1.0, max_value=1e3),
    cap_factor=st.floats(min_value=1.0, max_value=1e4),
    u=draws,
)
def test_decorrelated_jitter_within_base_and_capped_three_previous(
    base: float, factor: float, cap_factor: float, u: float
) -> None:
    previous = base * factor
    cap = base * cap_factor
    d = DecorrelatedJitter().apply(0.0, previous, base, cap, Fixed(u))
    assert min(base, cap) <= d <= min(cap, 3 * previous) * (1 + 1e-12)


@given(v=values, ratio=st.floats(min_value=0.0, max_value=1.0), u=draws)
def test_proportional_jitter_within_ratio(v: float, ratio: float, u: float) -> None:
    d = ProportionalJitter(ratio=ratio).apply(v, 0.0, 0.1, 1e9, Fixed(u))
    tol = 1e-12 * v
    assert v * (1 - ratio) - tol <= d <= v * (1 + ratio) + tol


@given(v=values, amount=st.floats(min_value=0.0, max_value=1e3), u=draws)
def test_additive_jitter_within_v_and_v_plus_amount(v: float, amount: float, u: float) -> None:
    d = AdditiveJitter(amount=amount).apply(v, 0.0, 0.1, 1e9, Fixed(u))
    assert v <= d <= v + amount


@given(
    base=st.floats(min_value=1e-4, max_value=10.0),
    multiplier=st.floats(min_value=1.0, max_value=100.0),
    cap_factor=st.floats(min_value=1.0, max_value=1e6),
    first_exponent=st.integers(min_value=0, max_value=64),
    n=retries,
)
def test_exponential_is_monotone_and_capped(
    base: float, multiplier: float, cap_factor: float, first_exponent: int, n: int
) -> None:
    b = ExponentialBackoff(
        base=base, multiplier=multiplier, cap=base * cap_factor, first_exponent=first_exponent
    )
    assert b.raw(n) <= b.raw(n + 1) <= b.cap
    assert b.raw(n) >= min(base, b.cap)


@given(
    base=st.floats(min_value=0.0, max_value=10.0),
    step=st.floats(min_value=0.0, max_value=10.0),
    extra=st.floats(min_value=1e-3, max_value=100.0),
    n=retries,
)
def test_linear_is_monotone_and_capped(base: float, step: float, extra: float, n: int) -> None:
    b = LinearBackoff(base=base, step=step, cap=base + extra)
    assert base <= b.raw(n) <= b.raw(n + 1) <= b.cap


@given(n=retries, seed=st.integers(min_value=0, max_value=2**32))
def test_full_jittered_exponential_never_exceeds_the_cap(n: int, seed: int) -> None:
    b = ExponentialBackoff(base=0.1, cap=5.0, jitter=FullJitter())
    assert 0.0 <= b.delay(n, 0.0, random.Random(seed)) <= 5.0


def test_no_jitter_returns_v() -> None:
    assert NoJitter().apply(1.25, 9.0, 0.1, 2.0, Fixed()) == 1.25
