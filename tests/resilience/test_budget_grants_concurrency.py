"""Grants under 16 threads: each settled exactly once, for exactly its cost, with negative controls.

Every thread holds grants of its own while the others take and settle theirs,
and counts what it was granted and what it should get back; the budget's final
state must equal the sums, with no grant left outstanding.

The critical sections are a few bytecodes, so a missing lock rarely shows on
its own. Here the amounts a budget adds or subtracts are ``YieldingInt``: an
``int`` whose reflected arithmetic yields the GIL (``time.sleep(0)``) between
reading a count and writing it back, which is exactly where an unlocked
budget loses an update or lets two threads pass the same check. The budget's
code is unchanged: a window count or a token count still does ``x += amount``.
"""

from __future__ import annotations

import random
import threading
import time

from concurrency import hammer, swap_lock

from resilience.budget import (
    AdaptiveThrottle,
    AdaptiveThrottleConfig,
    RatioBudget,
    RatioBudgetConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
)
from resilience.budget._window import BucketedWindow
from resilience.outcome import Outcome
from resilience.protocols import Grant

OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
SHED = Outcome.rejected("http_503")
TIMEOUT = Outcome.timeout()
THREADS, CALLS = 16, 200
RUNS = 5  # a race is probabilistic: a negative control may take a few runs to show it


class YieldingInt(int):
    """An amount that lets other threads run while it is added to or subtracted from a count."""

    def __radd__(self, other: int) -> int:
        time.sleep(0)
        return other + int(self)

    def __rsub__(self, other: int) -> int:
        time.sleep(0)
        return other - int(self)


class YieldingWindow(BucketedWindow):
    """A ``BucketedWindow`` whose counts are updated with ``YieldingInt`` amounts."""

    def add(self, counter: int, amount: int = 1) -> None:
        super().add(counter, YieldingInt(amount))

    def remove(self, counter: int, at: float, amount: int = 1) -> bool:
        return super().remove(counter, at, YieldingInt(amount))


# -- token bucket: mixed costs held at once -------------------------------------------------------

RETRY_COST, TIMEOUT_COST = 5, 10
CAPACITY = THREADS * CALLS * (RETRY_COST + TIMEOUT_COST)  # never refuses, never clips a refund


class PooledGrants:
    """Settles grants as the budget protocol without leases did: from a shared pool, cheapest first.

    The negative control for per-grant accounting: each outcome or refund
    settles some outstanding grant, not the caller's own.
    """

    def __init__(self, budget: TokenBucketBudget) -> None:
        self.budget = budget
        self.pool: list[Grant] = []
        self.lock = threading.Lock()

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        grant = self.budget.try_acquire_retry(now, outcome)
        if grant is not None:
            with self.lock:
                self.pool.append(grant)
        return grant

    def _cheapest(self) -> Grant:
        with self.lock:
            grant = min(self.pool, key=lambda g: g.cost)
            self.pool.remove(grant)
        return grant

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        self.budget.on_outcome(now, outcome, None if grant is None else self._cheapest())

    def refund(self, grant: Grant, now: float) -> None:
        self.budget.refund(self._cheapest(), now)


def _mixed_cost_violations(b: TokenBucketBudget, api: TokenBucketBudget | PooledGrants) -> list[str]:
    def work(i: int, calls: int) -> tuple[int, int]:
        granted = returned = 0
        for n in range(calls):
            after_timeout = api.try_acquire_retry(0, TIMEOUT)
            after_error = api.try_acquire_retry(0, ERR)
            assert after_timeout is not None and after_error is not None
            granted += TIMEOUT_COST + RETRY_COST
            api.on_outcome(0, OK, after_timeout)  # the timeout's retry succeeds: its cost back
            returned += TIMEOUT_COST
            if n % 2:
                api.refund(after_error, 0)  # abandoned before it ran: its cost back
                returned += RETRY_COST
            else:
                api.on_outcome(0, ERR, after_error)  # it ran and failed: its cost stays taken
        return granted, returned

    results = hammer(work, THREADS, CALLS)
    granted, returned = sum(r[0] for r in results), sum(r[1] for r in results)
    found = []
    if b.tokens != CAPACITY - granted + returned:
        found.append(f"conservation: {b.tokens} != {CAPACITY} - {granted} + {returned}")
    if b.outstanding != 0:
        found.append(f"unsettled grants: {b.outstanding}")
    return found


def _yielding_bucket() -> TokenBucketBudget:
    cfg = TokenBucketBudgetConfig(
        capacity=CAPACITY, retry_cost=YieldingInt(RETRY_COST), timeout_cost=YieldingInt(TIMEOUT_COST)
    )
    return TokenBucketBudget(cfg)


def test_token_bucket_settles_each_grant_for_exactly_its_cost_under_16_threads() -> None:
    b = _yielding_bucket()
    assert _mixed_cost_violations(b, b) == []
    assert b.tokens == CAPACITY - THREADS * CALLS // 2 * RETRY_COST  # only the failed retries kept theirs


def test_token_bucket_negative_control_settling_from_a_shared_pool_breaks_conservation() -> None:
    b = _yielding_bucket()
    assert _mixed_cost_violations(b, PooledGrants(b)) != []


def test_token_bucket_negative_control_without_the_lock_breaks_conservation() -> None:
    for _ in range(RUNS):
        b = swap_lock(_yielding_bucket())
        if _mixed_cost_violations(b, b):
            return
    raise AssertionError("no race observed without the lock: the test cannot see what it guards")


# -- ratio budget: grants and refunds against one window ------------------------------------------


def _ratio_violations(b: RatioBudget) -> list[str]:
    def work(i: int, calls: int) -> tuple[int, int, int]:
        granted = refunded = 0
        for n in range(calls):
            b.on_request(0)
            grant = b.try_acquire_retry(0, ERR)
            if grant is None:
                continue
            granted += 1
            if n % 2:
                b.refund(grant, 0)
                refunded += 1
            else:
                b.on_outcome(0, ERR, grant)
        return calls, granted, refunded

    results = hammer(work, THREADS, CALLS)
    requests = sum(r[0] for r in results)
    granted, refunded = sum(r[1] for r in results), sum(r[2] for r in results)
    found = []
    counted = b.counts(0)
    if counted != (requests, granted - refunded):
        found.append(f"counts {counted} != ({requests} requests, {granted} - {refunded} retries)")
    if counted[1] > b.config.percent_can_retry * counted[0]:
        found.append(f"{counted[1]} retries exceed {b.config.percent_can_retry} x {counted[0]} requests")
    if b.outstanding != 0:
        found.append(f"unsettled grants: {b.outstanding}")
    w = b._window
    if w.totals != w.bucket_sums():
        found.append(f"window totals {w.totals} != bucket sums {w.bucket_sums()}")
    return found


def _yielding_ratio() -> RatioBudget:
    b = RatioBudget(RatioBudgetConfig(ttl=60, min_retries_per_second=0, percent_can_retry=0.5))
    b._window = YieldingWindow(60, 10, 2)
    return b


def test_ratio_budget_counts_grants_and_refunds_exactly_under_16_threads() -> None:
    b = _yielding_ratio()
    assert _ratio_violations(b) == []
    assert b.counts(0)[1] > 0  # retries were granted and kept


def test_ratio_budget_negative_control_without_the_lock_breaks_the_invariants() -> None:
    for _ in range(RUNS):
        b = swap_lock(_yielding_ratio())
        if _ratio_violations(b):
            return
    raise AssertionError("no race observed without the lock: the test cannot see what it guards")


# -- adaptive throttle: requests taken back by refunds ---------------------------------------------


def _adaptive_violations(b: AdaptiveThrottle) -> list[str]:
    def work(i: int, calls: int) -> tuple[int, int]:
        requests = accepts = 0
        for n in range(calls):
            b.on_request(0)
            requests += 1
            first = OK if n % 3 else SHED
            b.on_outcome(0, first, None)
            accepts += first is OK
            grant = b.try_acquire_retry(0, first)
            requests += 1  # counted whether granted or rejected locally
            if grant is None:
                continue
            if n % 2:
                b.refund(grant, 0)  # never ran: its request is taken back
                requests -= 1
            else:
                b.on_outcome(0, OK, grant)
                accepts += 1
        return requests, accepts

    results = hammer(work, THREADS, CALLS)
    requests, accepts = sum(r[0] for r in results), sum(r[1] for r in results)
    found = []
    if b.counts(0) != (requests, accepts):
        found.append(f"counts {b.counts(0)} != ({requests} requests, {accepts} accepts)")
    if b.outstanding != 0:
        found.append(f"unsettled grants: {b.outstanding}")
    w = b._window
    if w.totals != w.bucket_sums():
        found.append(f"window totals {w.totals} != bucket sums {w.bucket_sums()}")
    return found


def _yielding_adaptive() -> AdaptiveThrottle:
    cfg = AdaptiveThrottleConfig(window=60, buckets=10, k=1)
    b = AdaptiveThrottle(cfg, random.Random(5))
    b._window = YieldingWindow(60, 10, 2)
    return b


def test_adaptive_throttle_counts_requests_accepts_and_refunds_exactly_under_16_threads() -> None:
    b = _yielding_adaptive()
    assert _adaptive_violations(b) == []
    assert b.counts(0)[0] > THREADS * CALLS  # retries were counted as requests


def test_adaptive_throttle_negative_control_without_the_lock_breaks_the_invariants() -> None:
    for _ in range(RUNS):
        b = swap_lock(_yielding_adaptive())
        if _adaptive_violations(b):
            return
    raise AssertionError("no race observed without the lock: the test cannot see what it guards")
