"""Admission gates under 16 threads: never above the limit, counters consistent; no-op-lock controls fail."""

from __future__ import annotations

import threading

from concurrency import hammer, swap_lock

from resilience.admission import (
    ADMITTED,
    Bulkhead,
    BulkheadConfig,
    ConcurrencyLimiter,
    FixedLimit,
    TokenBucketConfig,
    TokenBucketRateLimiter,
)

THREADS, CALLS, LIMIT = 16, 3_000, 4


class Occupancy:
    """An independent, locked count of callers inside, with the highest value seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1


def _limiter_violations(gate: ConcurrencyLimiter) -> list[str]:
    occ = Occupancy()

    def work(i: int, calls: int) -> int:
        got = 0
        for n in range(calls):
            tok = gate.try_acquire(float(n))
            if tok is None:
                continue
            got += 1
            occ.enter()
            occ.leave()
            tok.release(float(n))
        return got

    granted = sum(hammer(work, THREADS, CALLS))  # type: ignore[misc, arg-type]
    found = []
    if occ.peak > LIMIT:
        found.append(f"{occ.peak} callers inside a gate limited to {LIMIT}")
    if gate.in_flight != 0:
        found.append(f"in_flight {gate.in_flight} after every token was released")
    if gate.acquired != granted or gate.released != granted:
        found.append(f"acquired {gate.acquired} / released {gate.released} != granted {granted}")
    if granted + gate.rejections["concurrency_limit"] != THREADS * CALLS:
        found.append("granted + rejected != attempts")
    return found


def test_concurrency_limiter_holds_its_limit_under_threads() -> None:
    assert _limiter_violations(ConcurrencyLimiter(FixedLimit(LIMIT))) == []


def test_concurrency_limiter_negative_control_without_lock() -> None:
    assert _limiter_violations(swap_lock(ConcurrencyLimiter(FixedLimit(LIMIT)))) != []


def _bulkhead_violations(bh: Bulkhead) -> list[str]:
    occ = Occupancy()

    def work(i: int, calls: int) -> int:
        got = 0
        for n in range(calls):
            if bh.try_enter(float(n)) is not ADMITTED:
                continue
            got += 1
            occ.enter()
            occ.leave()
            bh.leave(float(n))
        return got

    granted = sum(hammer(work, THREADS, CALLS))  # type: ignore[misc, arg-type]
    found = []
    if occ.peak > LIMIT:
        found.append(f"{occ.peak} callers inside a bulkhead of {LIMIT}")
    if bh.in_flight != 0:
        found.append(f"in_flight {bh.in_flight} after every caller left")
    if bh.admitted_total != granted:
        found.append(f"admitted_total {bh.admitted_total} != {granted}")
    if granted + bh.rejections["bulkhead_full"] != THREADS * CALLS:
        found.append("admitted + rejected != attempts")
    return found


def test_bulkhead_holds_max_concurrent_under_threads() -> None:
    assert _bulkhead_violations(Bulkhead(BulkheadConfig(max_concurrent=LIMIT))) == []


def test_bulkhead_negative_control_without_lock() -> None:
    assert _bulkhead_violations(swap_lock(Bulkhead(BulkheadConfig(max_concurrent=LIMIT)))) != []


def _bucket_violations(rl: TokenBucketRateLimiter, burst: int) -> list[str]:
    def work(i: int, calls: int) -> int:
        return sum(rl.try_acquire(0.0) for _ in range(calls))  # time stands still: no refill

    granted = sum(hammer(work, THREADS, CALLS // 3))  # type: ignore[misc, arg-type]
    found = []
    if granted > burst:
        found.append(f"{granted} tokens granted from a bucket of {burst} without refill")
    if granted + rl.rejections["rate_limited"] != THREADS * (CALLS // 3):
        found.append("granted + refused != attempts")
    return found


def test_token_bucket_never_overgrants_under_threads() -> None:
    assert _bucket_violations(TokenBucketRateLimiter(TokenBucketConfig(rate=1.0, burst=2000.0)), 2000) == []


def test_token_bucket_negative_control_without_lock() -> None:
    rl = swap_lock(TokenBucketRateLimiter(TokenBucketConfig(rate=1.0, burst=2000.0)))
    assert _bucket_violations(rl, 2000) != []
