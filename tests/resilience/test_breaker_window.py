"""Sliding windows: O(1) running totals that always equal the sum over slots or buckets."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.breaker import CountWindow, TimeWindow, WindowTotals
from resilience.breaker.window import FAILED, SLOW

S, F, SS, SF = 0, FAILED, SLOW, FAILED | SLOW


def _totals(codes: list[int]) -> WindowTotals:
    return WindowTotals(
        len(codes),
        sum(1 for c in codes if c & FAILED),
        sum(1 for c in codes if c & SLOW),
        sum(1 for c in codes if c == SF),
    )


def test_count_window_keeps_the_last_n_outcomes() -> None:
    w = CountWindow(3)
    assert w.totals() == WindowTotals() and w.check()
    for code in (F, SF, S):
        w.add(0.0, code)
    assert w.totals() == WindowTotals(3, 2, 1, 1)
    w.add(0.0, SS)  # overwrites the first failure
    assert w.totals() == WindowTotals(3, 1, 2, 1)
    w.add(0.0, S)  # overwrites the slow failure
    assert w.totals() == WindowTotals(3, 0, 1, 0)
    assert w.check()
    assert w.totals().failure_rate == 0.0 and w.totals().slow_call_rate == pytest.approx(1 / 3)
    w.clear()
    assert w.totals() == WindowTotals() == w.sums()


def test_count_window_rejects_size_zero() -> None:
    with pytest.raises(ValueError, match="size must be >= 1"):
        CountWindow(0)


def test_time_window_expires_whole_buckets() -> None:
    w = TimeWindow(buckets=3, bucket_seconds=1.0)
    w.add(0.2, F)
    w.add(0.9, S)
    w.add(1.5, SF)
    w.add(2.0, SS)
    assert w.totals() == WindowTotals(4, 2, 2, 1)
    assert w.bucket(0.0) == WindowTotals(2, 1, 0, 0)
    w.add(3.0, S)  # bucket 3 is in, bucket 0 (F, S) is out
    assert w.totals() == WindowTotals(3, 1, 2, 1) == w.sums()
    assert w.bucket(0.5) == WindowTotals()
    w.expire(4.99)  # buckets 2..4 remain
    assert w.totals() == WindowTotals(2, 0, 1, 0)
    w.expire(100.0)  # a jump past the whole window clears it
    assert w.totals() == WindowTotals() == w.sums()


def test_time_window_counts_a_late_timestamp_in_the_newest_bucket() -> None:
    w = TimeWindow(buckets=2, bucket_seconds=1.0)
    w.add(5.5, S)
    w.add(3.0, F)  # older than the newest bucket: counted there
    assert w.bucket(5.0) == WindowTotals(2, 1, 0, 0)
    w.add(7.0, S)  # buckets 6, 7 remain: both old calls are gone together
    assert w.totals() == WindowTotals(1, 0, 0, 0)


def test_time_window_totals_at_does_not_change_the_window() -> None:
    w = TimeWindow(buckets=4, bucket_seconds=0.5)
    for t, code in [(0.0, F), (0.6, F), (1.1, S), (1.7, S)]:
        w.add(t, code)
    before = w.totals()
    assert w.totals_at(2.1) == WindowTotals(3, 1, 0, 0)  # bucket 0 expired
    assert w.totals_at(2.6) == WindowTotals(2, 0, 0, 0)
    assert w.totals_at(10.0) == WindowTotals()
    assert w.totals_at(1.8) == before
    assert w.totals() == before


def test_time_window_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="buckets >= 1"):
        TimeWindow(0, 1.0)
    with pytest.raises(ValueError, match="bucket_seconds > 0"):
        TimeWindow(3, 0.0)


codes = st.sampled_from([S, F, SS, SF])


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 12), seq=st.lists(codes, max_size=80))
def test_count_window_matches_a_deque_model(size: int, seq: list[int]) -> None:
    w = CountWindow(size)
    model: deque[int] = deque(maxlen=size)
    for code in seq:
        w.add(0.0, code)
        model.append(code)
        assert w.totals() == _totals(list(model)) == w.sums()


@settings(max_examples=200, deadline=None)
@given(
    buckets=st.integers(1, 8),
    bucket_seconds=st.sampled_from([0.1, 0.25, 1.0, 3.0]),
    steps=st.lists(st.tuples(st.floats(-2.0, 6.0, allow_nan=False), codes, st.booleans()), max_size=60),
)
def test_time_window_matches_a_bucket_model(
    buckets: int, bucket_seconds: float, steps: list[tuple[float, int, bool]]
) -> None:
    """Random times (mostly forward, some late): totals == sum over buckets == a brute-force model."""
    w = TimeWindow(buckets, bucket_seconds)
    now = 0.0
    newest = float("-inf")
    model: list[tuple[float, int]] = []  # (bucket number, code)
    for dt, code, expire_only in steps:
        now = max(0.0, now + dt)
        if expire_only:
            w.expire(now)
        else:
            w.add(now, code)
            newest = max(newest, now // bucket_seconds)
            model.append((newest, code))
        newest = max(newest, now // bucket_seconds)
        live = [c for b, c in model if b > newest - buckets]
        assert w.totals() == _totals(live) == w.sums()
        assert w.check()
        t = w.totals()
        assert 0 <= t.slow_failures <= min(t.failures, t.slow) and max(t.failures, t.slow) <= t.calls
        assert 0.0 <= t.failure_rate <= 1.0 and 0.0 <= t.slow_call_rate <= 1.0


def test_time_window_at_float_bucket_edges_agrees_with_floor_division() -> None:
    """Times such as k·0.1 fall on edges that floating point rounds either way: the window follows ``//``."""
    w = TimeWindow(buckets=3, bucket_seconds=0.1)
    model: list[tuple[float, int]] = []
    for k in range(2000):
        now = k * 0.1 if k % 3 else k / 10
        code = k % 4
        w.add(now, code)
        model.append((now // 0.1, code))
        newest = max(b for b, _ in model)
        assert w.totals() == _totals([c for b, c in model[-10:] if b > newest - 3]) == w.sums()
