"""Admission gates under 16 threads: never above their limits, counters consistent.

CPython rarely switches threads inside a few bytecodes, so each test passes
values that yield the GIL inside the critical section (``time.sleep(0)``): a
``now`` or ``n`` that yields when compared or added, a limit algorithm that
yields when asked for its limit. The production classes are used unchanged;
the negative controls swap their ``_lock`` for a no-op and must fail.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from concurrency import hammer, swap_lock

from resilience.admission import (
    ADMITTED,
    Bulkhead,
    BulkheadConfig,
    ConcurrencyLimiter,
    Queued,
    TokenBucketConfig,
    TokenBucketRateLimiter,
)

THREADS = 16


class Yielding(float):
    """A number that lets other threads run whenever it is compared or added."""

    def __add__(self, other: Any) -> float:
        time.sleep(0)
        return float(self) + other

    def __radd__(self, other: Any) -> float:
        time.sleep(0)
        return other + float(self)

    def __rsub__(self, other: Any) -> float:
        time.sleep(0)
        return other - float(self)

    def __le__(self, other: Any) -> bool:
        time.sleep(0)
        return float(self) <= other

    def __ge__(self, other: Any) -> bool:
        time.sleep(0)
        return float(self) >= other


class YieldingLimit:
    """A fixed limit that lets other threads run while it is read."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    @property
    def limit(self) -> int:
        time.sleep(0)
        return self._limit

    def update(self, rtt: float, in_flight: int, dropped: bool) -> int:
        return self._limit


class Occupancy:
    """An independent, locked count of holders, with the highest value seen."""

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


# -- concurrency limiter -------------------------------------------------------------
LIMIT, LIMITER_CALLS = 4, 300


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
            time.sleep(0)
            occ.leave()
            tok.release(float(n))
        return got

    try:
        granted = sum(hammer(work, THREADS, LIMITER_CALLS))  # type: ignore[misc, arg-type]
    except RuntimeError as e:  # e.g. a token seen as released twice
        return [f"state corrupted: {e!r}"]
    found = []
    if occ.peak > LIMIT:
        found.append(f"{occ.peak} callers inside a gate limited to {LIMIT}")
    if gate.in_flight != 0:
        found.append(f"in_flight {gate.in_flight} after every token was released")
    if gate.acquired != granted or gate.released != granted:
        found.append(f"acquired {gate.acquired} / released {gate.released} != granted {granted}")
    if granted + gate.rejections["concurrency_limit"] != THREADS * LIMITER_CALLS:
        found.append("granted + rejected != attempts")
    return found


def test_concurrency_limiter_holds_its_limit_under_threads() -> None:
    assert _limiter_violations(ConcurrencyLimiter(YieldingLimit(LIMIT))) == []


def test_concurrency_limiter_negative_control_without_lock() -> None:
    assert _limiter_violations(swap_lock(ConcurrencyLimiter(YieldingLimit(LIMIT)))) != []


# -- bulkhead ----------------------------------------------------------------------------
SLOTS, ROOM, BULKHEAD_CALLS = 2, 2, 300


def _bulkhead_violations(bh: Bulkhead) -> list[str]:
    # ``inside`` counts callers admitted at once; the waiting room is sampled from the
    # bulkhead itself, because a queued ticket may be handed a slot (and leave the
    # queue) while its thread still holds it, so counting ticket holders overstates it.
    inside = Occupancy()
    room_peak = [0] * THREADS

    def work(i: int, calls: int) -> tuple[int, int]:
        entered = queued = 0
        for n in range(calls):
            decision = bh.try_enter(Yielding(n))
            if decision is ADMITTED:
                entered += 1
                inside.enter()
                time.sleep(0)
                inside.leave()
                bh.leave(float(n))
            elif isinstance(decision, Queued):
                queued += 1
                room_peak[i] = max(room_peak[i], bh.waiting)
                time.sleep(0)
                room_peak[i] = max(room_peak[i], bh.waiting)
                bh.cancel(decision.ticket, float(n))  # passes on a slot if one was handed over
        return entered, queued

    try:
        results: list[tuple[int, int]] = hammer(work, THREADS, BULKHEAD_CALLS)  # type: ignore[assignment]
    except (ValueError, RuntimeError) as e:  # e.g. a ticket lost from the queue
        return [f"state corrupted: {e!r}"]
    entered = sum(r[0] for r in results)
    queued = sum(r[1] for r in results)
    found = []
    if inside.peak > SLOTS:
        found.append(f"{inside.peak} callers inside a bulkhead of {SLOTS}")
    if max(room_peak) > ROOM:
        found.append(f"{max(room_peak)} tickets queued in a waiting room of {ROOM}")
    if bh.in_flight != 0 or bh.waiting != 0:
        found.append(f"in_flight {bh.in_flight}, waiting {bh.waiting} at the end")
    if entered + queued + bh.rejections["bulkhead_full"] != THREADS * BULKHEAD_CALLS:
        found.append("admitted + queued + rejected != attempts")
    return found


def _bulkhead() -> Bulkhead:
    return Bulkhead(BulkheadConfig(max_concurrent=SLOTS, max_waiting=ROOM, max_wait_time=1e9))


def test_bulkhead_holds_its_slots_and_room_under_threads() -> None:
    assert _bulkhead_violations(_bulkhead()) == []


def test_bulkhead_negative_control_without_lock() -> None:
    assert _bulkhead_violations(swap_lock(_bulkhead())) != []


# -- token bucket ---------------------------------------------------------------------------
BURST, BUCKET_CALLS = 500, 100


def _bucket_violations(rl: TokenBucketRateLimiter) -> list[str]:
    def work(i: int, calls: int) -> int:
        return sum(rl.try_acquire(0.0, Yielding(1.0)) for _ in range(calls))  # time stands still

    granted = sum(hammer(work, THREADS, BUCKET_CALLS))  # type: ignore[misc, arg-type]
    found = []
    if granted > BURST:
        found.append(f"{granted} tokens granted from a bucket of {BURST} without refill")
    if granted + rl.rejections["rate_limited"] != THREADS * BUCKET_CALLS:
        found.append("granted + refused != attempts")
    return found


def test_token_bucket_never_overgrants_under_threads() -> None:
    assert _bucket_violations(TokenBucketRateLimiter(TokenBucketConfig(rate=1.0, burst=BURST))) == []


def test_token_bucket_negative_control_without_lock() -> None:
    rl = swap_lock(TokenBucketRateLimiter(TokenBucketConfig(rate=1.0, burst=BURST)))
    assert _bucket_violations(rl) != []
