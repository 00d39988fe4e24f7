"""Shared budgets under 16 threads: order-independent invariants, with a no-op-lock negative control.

Each thread counts what it was granted and what it should get back; the
budget's final state must equal the sums. Refunds are never clipped here: the
bucket is drained before the threads start and its capacity is far above what
they can refund, so conservation is exact: tokens = start - granted + refunded.

The gRPC throttle's critical section is a few bytecodes, so its test passes a
success increment that yields the GIL while it is added (``time.sleep(0)``),
as the admission tests do; its count is kept away from both clips so that
milli-token conservation is exact: final = start - 1000 * failures + ratio * successes.
"""

from __future__ import annotations

import time

from concurrency import hammer, swap_lock

from resilience.budget import (
    GrpcRetryThrottle,
    GrpcRetryThrottleConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
)
from resilience.outcome import CANCELLED, Outcome

OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
THREADS, CALLS = 16, 10_000
CAPACITY = 100_000  # > CALLS * THREADS / 4 first-attempt refunds: never clipped after draining


def _drained_bucket() -> tuple[TokenBucketBudget, int]:
    b = TokenBucketBudget(TokenBucketBudgetConfig(capacity=CAPACITY, retry_cost=5, no_retry_increment=1))
    while (grant := b.try_acquire_retry(0, ERR)) is not None:
        b.on_outcome(0, ERR, grant)  # settle the grant without refund
    return b, b.tokens


def _token_worker(b: TokenBucketBudget):  # type: ignore[no-untyped-def]
    def work(i: int, calls: int) -> tuple[int, int, int]:
        granted = refunded = low = 0
        for n in range(calls):
            if n % 4 == 0:
                b.on_outcome(0, OK, None)  # first attempt succeeded: +1
                refunded += 1
                continue
            b.on_outcome(0, ERR, None)
            grant = b.try_acquire_retry(0, ERR)
            if grant is not None:
                granted += 5
                if n % 2 == 0:
                    b.on_outcome(0, OK, grant)  # the retry succeeded: its 5 back
                    refunded += 5
                else:
                    b.on_outcome(0, ERR, grant)
            low = min(low, b.tokens)
        return granted, refunded, low

    return work


def _token_violations(b: TokenBucketBudget, start: int, results: list[object]) -> list[str]:
    granted = sum(r[0] for r in results)  # type: ignore[index]
    refunded = sum(r[1] for r in results)  # type: ignore[index]
    low = min(r[2] for r in results)  # type: ignore[index]
    found = []
    if not 0 <= b.tokens <= CAPACITY or low < 0:
        found.append(f"tokens out of bounds: final {b.tokens}, lowest seen {low}")
    if b.tokens != start - granted + refunded:
        found.append(f"conservation: {b.tokens} != {start} - {granted} + {refunded}")
    if b.outstanding != 0:
        found.append(f"unsettled grants: {b.outstanding}")
    return found


def test_token_bucket_keeps_bounds_and_conservation_under_16_threads() -> None:
    b, start = _drained_bucket()
    results = hammer(_token_worker(b), THREADS, CALLS)
    assert _token_violations(b, start, results) == []
    assert sum(r[0] for r in results) > 0  # type: ignore[index]  # retries were granted (and refused)


def test_token_bucket_negative_control_without_the_lock_breaks_the_invariants() -> None:
    # The same test against the same class with its lock swapped for a no-op must fail;
    # a race is probabilistic (most single runs show it), so allow a few runs to show it.
    for _ in range(6):
        b, start = _drained_bucket()
        swap_lock(b)
        results = hammer(_token_worker(b), THREADS, CALLS)
        if _token_violations(b, start, results):
            return
    raise AssertionError("no race observed without the lock: the test cannot see what it guards")


# -- gRPC retry throttle (gRFC A6) ------------------------------------------------------------
class YieldingMilli(int):
    """A milli-token amount that lets other threads run while it is added."""

    def __radd__(self, other: int) -> int:
        time.sleep(0)
        return other + int(self)


NEUTRAL = (CANCELLED, Outcome.error("invalid_argument", retryable=False))
GRPC_CALLS = 150
GRPC_RATIO = 500  # milli-tokens a success adds; a retryable failure takes 1000


def _half_full_throttle() -> tuple[GrpcRetryThrottle, int]:
    # 1000 tokens, drained to 500: the threads below move the count by at most 16 * 1000
    # milli-tokens either way, so neither clip (0, max_tokens) is ever reached.
    t = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=1000, token_ratio=GRPC_RATIO / 1000))
    for _ in range(500):
        t.on_outcome(0, ERR, None)
    t._ratio = YieldingMilli(t._ratio)  # every success yields between reading and writing the count
    return t, t._milli


def _throttle_violations(t: GrpcRetryThrottle, start: int) -> list[str]:
    def work(i: int, calls: int) -> tuple[int, int, int, int]:
        failures = successes = 0
        low = high = start
        for n in range(calls):
            t.on_outcome(0, ERR, None)  # retryable failure: -1000 milli-tokens
            failures += 1
            t.on_outcome(0, OK, None)  # success: +GRPC_RATIO
            t.on_outcome(0, OK, None)
            successes += 2
            t.on_outcome(0, NEUTRAL[n % 2], None)  # cancelled / not retryable: changes nothing
            milli = round(t.tokens * 1000)
            low, high = min(low, milli), max(high, milli)
        return failures, successes, low, high

    results = hammer(work, THREADS, GRPC_CALLS)
    failures = sum(r[0] for r in results)
    successes = sum(r[1] for r in results)
    low, high = min(r[2] for r in results), max(r[3] for r in results)
    found = []
    if not 0 < low <= high < t._max:
        found.append(f"count reached a clip ({low}..{high} of {t._max}): conservation would not be exact")
    expected = start - 1000 * failures + GRPC_RATIO * successes
    if t._milli != expected:
        found.append(f"conservation: {t._milli} != {start} - 1000*{failures} + {GRPC_RATIO}*{successes}")
    return found


def test_grpc_throttle_conserves_milli_tokens_under_16_threads() -> None:
    t, start = _half_full_throttle()
    assert _throttle_violations(t, start) == []
    assert t.tokens == 500.0  # one failure and two successes per round: no net change


def test_grpc_throttle_negative_control_without_the_lock_loses_updates() -> None:
    # A lost update can be cancelled by another of opposite sign, so allow a few runs to show it.
    for _ in range(5):
        t, start = _half_full_throttle()
        if _throttle_violations(swap_lock(t), start):
            return
    raise AssertionError("no lost update without the lock: the test cannot see what it guards")
