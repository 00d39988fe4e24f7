"""Token bucket, AIMD and gradient limits, and the concurrency gate, on manual time."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.admission import (
    AIMDConfig,
    AIMDLimit,
    ConcurrencyLimiter,
    FixedLimit,
    GradientConfig,
    GradientLimit,
    TokenBucketConfig,
    TokenBucketRateLimiter,
)
from resilience.outcome import Outcome

# -- token bucket -----------------------------------------------------------------


def test_bucket_starts_full_refills_at_rate_and_counts_refusals() -> None:
    rl = TokenBucketRateLimiter(TokenBucketConfig(rate=2.0, burst=3.0))
    assert [rl.try_acquire(0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.wait_time(0.0) == pytest.approx(0.5)
    assert not rl.try_acquire(0.25)
    assert rl.try_acquire(0.5)
    assert rl.available(100.0) == 3.0  # capped at burst
    assert rl.rejections.snapshot() == {"rate_limited": 2}


def test_bucket_wait_time_for_several_tokens_and_invalid_n() -> None:
    rl = TokenBucketRateLimiter(TokenBucketConfig(rate=10.0, burst=5.0))
    assert rl.try_acquire(0.0, n=5)
    assert rl.wait_time(0.0, n=2) == pytest.approx(0.2)
    assert rl.available(0.0) == 0.0  # wait_time takes nothing
    with pytest.raises(ValueError, match="must be in"):
        rl.try_acquire(0.0, n=6)
    with pytest.raises(ValueError, match="must be in"):
        rl.wait_time(0.0, n=0)


def test_bucket_ignores_time_going_backwards() -> None:
    rl = TokenBucketRateLimiter(TokenBucketConfig(rate=1.0, burst=1.0))
    assert rl.try_acquire(10.0)
    assert not rl.try_acquire(5.0)
    assert not rl.try_acquire(10.5)
    assert rl.try_acquire(11.0)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.1, 100),
    burst=st.integers(1, 20),
    steps=st.lists(st.tuples(st.floats(0, 0.5), st.integers(1, 3)), min_size=1, max_size=150),
)
def test_property_grants_never_exceed_burst_plus_rate_times_t(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    rl = TokenBucketRateLimiter(TokenBucketConfig(rate=rate, burst=float(burst)))
    now = 0.0
    grants: list[tuple[float, int]] = []
    for dt, n in steps:
        now += dt
        n = min(n, burst)
        if rl.try_acquire(now, n):
            grants.append((now, n))
    for i in range(len(grants)):
        total = 0
        for j in range(i, len(grants)):
            total += grants[j][1]
            span = grants[j][0] - grants[i][0]
            assert total <= burst + rate * span + 1e-6


# -- AIMD -----------------------------------------------------------------------


def test_aimd_grows_by_one_when_busy_and_not_when_idle() -> None:
    lim = AIMDLimit(AIMDConfig(initial_limit=10, max_limit=12))
    assert lim.update(0.01, in_flight=4, dropped=False) == 10  # < half the limit in flight
    assert lim.update(0.01, in_flight=5, dropped=False) == 11
    assert lim.update(0.01, in_flight=11, dropped=False) == 12
    assert lim.update(0.01, in_flight=12, dropped=False) == 12  # max_limit


def test_aimd_multiplies_down_on_drop_or_slow_call_and_respects_min() -> None:
    lim = AIMDLimit(AIMDConfig(initial_limit=10, min_limit=4, backoff_ratio=0.5, timeout=1.0))
    assert lim.update(0.01, in_flight=10, dropped=True) == 5
    assert (
        lim.update(1.5, in_flight=1, dropped=False) == 4
    )  # slower than timeout: a drop; floor(2.5) -> min 4
    assert lim.update(0.01, in_flight=1, dropped=True) == 4


@settings(max_examples=200, deadline=None)
@given(
    lo=st.integers(1, 20),
    span=st.integers(0, 50),
    ratio=st.floats(0.5, 0.99),
    events=st.lists(st.tuples(st.floats(0, 10), st.integers(0, 100), st.booleans()), max_size=200),
)
def test_property_aimd_limit_stays_within_bounds(
    lo: int, span: int, ratio: float, events: list[tuple[float, int, bool]]
) -> None:
    cfg = AIMDConfig(initial_limit=lo, min_limit=lo, max_limit=lo + span, backoff_ratio=ratio)
    lim = AIMDLimit(cfg)
    for rtt, inflight, drop in events:
        assert lo <= lim.update(rtt, inflight, drop) <= lo + span


# -- gradient ---------------------------------------------------------------------


def test_gradient_grows_while_rtt_stays_at_no_load() -> None:
    lim = GradientLimit(GradientConfig(initial_limit=16, smoothing=1.0, queue_size=4))
    assert lim.update(0.010, in_flight=16, dropped=False) == 20  # 16 * 1.0 + 4
    assert lim.rtt_noload == 0.010


def test_gradient_shrinks_under_queueing_bounded_by_half() -> None:
    lim = GradientLimit(GradientConfig(initial_limit=100, smoothing=1.0, queue_size=0, rtt_tolerance=1.0))
    lim.update(0.010, in_flight=100, dropped=False)  # learns rtt_noload = 10 ms
    assert lim.update(0.020, in_flight=100, dropped=False) == 50  # gradient 0.5
    assert lim.last_gradient == 0.5
    assert lim.update(1.0, in_flight=100, dropped=False) == 25  # floor of 0.5 filters outliers


def test_gradient_tolerance_smoothing_app_limit_and_drop() -> None:
    lim = GradientLimit(GradientConfig(initial_limit=100, smoothing=0.5, queue_size=0, rtt_tolerance=2.0))
    lim.update(0.010, in_flight=100, dropped=False)
    assert lim.update(0.019, in_flight=100, dropped=False) == 100  # within 2x tolerance: gradient 1
    assert lim.update(0.040, in_flight=100, dropped=False) == 75  # gradient 0.5, smoothed halfway
    assert lim.update(0.010, in_flight=10, dropped=False) == 75  # app-limited: unchanged
    assert lim.update(0.010, in_flight=10, dropped=True) == 56  # drop: 75*0.5, smoothed: 56.25


def test_gradient_probe_resets_the_no_load_rtt() -> None:
    lim = GradientLimit(GradientConfig(probe_interval=3))
    lim.update(0.010, 20, False)
    lim.update(0.050, 20, False)
    assert lim.rtt_noload == 0.010
    lim.update(0.050, 20, False)  # third sample: probe
    assert lim.rtt_noload == 0.050


def test_gradient_default_queue_allowance_is_sqrt_of_limit() -> None:
    lim = GradientLimit(GradientConfig(initial_limit=16, smoothing=1.0))
    lim.update(0.01, 16, False)
    assert lim.estimate == pytest.approx(16 + math.sqrt(16))


@settings(max_examples=200, deadline=None)
@given(events=st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(0, 300), st.booleans()), max_size=200))
def test_property_gradient_limit_stays_within_bounds(events: list[tuple[float, int, bool]]) -> None:
    lim = GradientLimit(GradientConfig(initial_limit=10, min_limit=5, max_limit=80))
    for rtt, inflight, drop in events:
        assert 5 <= lim.update(rtt, inflight, drop) <= 80


# -- the gate -----------------------------------------------------------------------


def test_gate_refuses_at_the_limit_and_counts_concurrency_limit() -> None:
    gate = ConcurrencyLimiter(FixedLimit(2))
    a, b = gate.try_acquire(0.0), gate.try_acquire(0.0)
    assert a is not None and b is not None
    assert gate.try_acquire(0.0) is None
    assert gate.rejections.snapshot() == {"concurrency_limit": 1}
    a.release(1.0)
    assert gate.in_flight == 1 and gate.try_acquire(1.0) is not None
    with pytest.raises(RuntimeError, match="already released"):
        a.release(1.0)


def test_gate_feeds_outcomes_to_the_algorithm() -> None:
    gate = ConcurrencyLimiter(AIMDLimit(AIMDConfig(initial_limit=2, backoff_ratio=0.5)))
    t1, t2 = gate.try_acquire(0.0), gate.try_acquire(0.0)
    assert t1 is not None and t2 is not None
    t1.release(0.1)  # success, saw 1 in flight (>= half of 2): +1
    assert gate.limit == 3
    t2.release(0.2, Outcome.timeout())  # drop
    assert gate.limit == 1
    t3 = gate.try_acquire(0.3)
    assert t3 is not None
    t3.release(0.4, Outcome.error("http_500", retryable=True))  # ignored
    assert gate.limit == 1
    t4 = gate.try_acquire(0.5)
    assert t4 is not None
    t4.release(0.6, Outcome.rejected("http_503"))  # shed by the server: a drop
    assert gate.limit == 1 and gate.acquired == gate.released == 4


def test_gate_uses_the_given_rtt_over_the_measured_one() -> None:
    lim = GradientLimit(GradientConfig(initial_limit=4, smoothing=1.0, queue_size=0))
    gate = ConcurrencyLimiter(lim)
    tok = gate.try_acquire(0.0)
    assert tok is not None
    tok.release(10.0, rtt=0.005)
    assert lim.rtt_noload == 0.005
