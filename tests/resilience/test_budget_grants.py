"""Each budget's grants: what a refund gives back, what a retry's outcome settles, settled once."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from resilience.budget import (
    AdaptiveThrottle,
    AdaptiveThrottleConfig,
    GrpcRetryThrottle,
    GrpcRetryThrottleConfig,
    RatioBudget,
    RatioBudgetConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
)
from resilience.outcome import Outcome
from resilience.protocols import Grant

OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
SHED = Outcome.rejected("http_503")
TIMEOUT = Outcome.timeout()

AnyBudget = TokenBucketBudget | RatioBudget | GrpcRetryThrottle | AdaptiveThrottle


def healthy_adaptive() -> AdaptiveThrottle:
    """A throttle whose backend accepted 10 attempts: p stays 0 for the few retries below."""
    b = AdaptiveThrottle(AdaptiveThrottleConfig(), random.Random(0))
    for _ in range(10):
        b.on_outcome(0.0, OK, None)
    return b


BUDGETS: dict[str, Callable[[], AnyBudget]] = {
    "token_bucket": TokenBucketBudget,
    "ratio": RatioBudget,
    "grpc": GrpcRetryThrottle,
    "adaptive": healthy_adaptive,
}


def grant_of(b: AnyBudget, now: float = 0.0, outcome: Outcome = ERR) -> Grant:
    grant = b.try_acquire_retry(now, outcome)
    assert grant is not None
    return grant


# -- every budget -------------------------------------------------------------------------------


@pytest.mark.parametrize("make", BUDGETS.values(), ids=BUDGETS.keys())
def test_every_grant_is_outstanding_until_settled_once_by_its_outcome_or_a_refund(
    make: Callable[[], AnyBudget],
) -> None:
    b = make()
    ran, abandoned, pending = grant_of(b), grant_of(b), grant_of(b)
    assert b.outstanding == 3
    b.on_outcome(1.0, OK, ran)
    b.refund(abandoned, 1.0)
    assert b.outstanding == 1
    available = b.available(1.0)
    b.refund(ran, 1.0)  # settled already: nothing comes back
    b.refund(abandoned, 1.0)
    assert b.available(1.0) == available and b.outstanding == 1
    b.on_outcome(1.0, ERR, abandoned)  # the outcome counts as an attempt's; the grant stays settled
    assert b.outstanding == 1
    b.refund(pending, 1.0)
    assert b.outstanding == 0


@pytest.mark.parametrize("make", BUDGETS.values(), ids=BUDGETS.keys())
def test_a_grant_from_elsewhere_settles_nothing(make: Callable[[], AnyBudget]) -> None:
    b, other = make(), make()
    mine = grant_of(b)
    foreign = [grant_of(other), Grant(10, 0.0)]  # another budget's, and one nobody issued
    available = b.available(0.0)
    for g in foreign:
        b.refund(g, 0.0)
    assert b.available(0.0) == available and b.outstanding == 1
    for g in foreign:
        b.on_outcome(0.0, ERR, g)
    assert b.outstanding == 1
    b.refund(mine, 0.0)
    assert b.outstanding == 0 and other.outstanding == 1


# -- token bucket: exactly the grant's cost ------------------------------------------------------


def test_token_bucket_refund_returns_exactly_that_grants_cost_whatever_else_is_outstanding() -> None:
    b = TokenBucketBudget()
    after_timeout = grant_of(b, outcome=TIMEOUT)  # 10
    after_error = grant_of(b, outcome=ERR)  # 5
    assert (after_timeout.cost, after_error.cost, b.tokens) == (10, 5, 485)
    b.refund(after_timeout, 1.0)
    assert b.tokens == 495  # the cheaper grant outstanding does not make this refund 5
    b.on_outcome(1.0, ERR, after_error)  # its retry ran and failed: its 5 stay taken
    assert b.tokens == 495 and b.outstanding == 0


def test_token_bucket_refund_is_capped_at_capacity() -> None:
    b = TokenBucketBudget(TokenBucketBudgetConfig(capacity=10, retry_cost=5, no_retry_increment=4))
    grant = grant_of(b)
    b.on_outcome(0.0, OK, None)
    b.on_outcome(0.0, OK, None)  # 5 + 4 + 4, capped at 10
    b.refund(grant, 0.0)
    assert b.tokens == 10


def test_token_bucket_refunds_do_not_depend_on_time() -> None:
    b = TokenBucketBudget()
    grant = grant_of(b, 0.0, TIMEOUT)
    b.refund(grant, 1e9)
    assert b.tokens == 500


# -- ratio: a refund takes the withdrawal back from its bucket ------------------------------------


def test_ratio_refund_gives_the_withdrawal_back_so_another_retry_fits() -> None:
    b = RatioBudget(RatioBudgetConfig(min_retries_per_second=0.1, ttl=10))  # reserve: one retry
    grant = grant_of(b, 1.0)
    assert b.try_acquire_retry(1.0, ERR) is None
    b.refund(grant, 2.0)
    assert b.counts(2.0) == (0, 0)
    assert b.try_acquire_retry(2.0, ERR) is not None


def test_ratio_refund_after_its_bucket_expired_takes_nothing_from_newer_withdrawals() -> None:
    # ttl 10 s in 10 buckets: a withdrawal made at 0.5 has left the window at 10.0
    b = RatioBudget(RatioBudgetConfig(ttl=10, min_retries_per_second=1, percent_can_retry=0))
    old = grant_of(b, 0.5)
    grant_of(b, 5.0)
    b.refund(old, 10.0)
    assert b.counts(10.0) == (0, 1)  # the withdrawal of 5.0 is still counted
    assert b.outstanding == 1


def test_ratio_grant_records_the_bucket_it_was_counted_in_when_time_ran_backwards() -> None:
    b = RatioBudget(RatioBudgetConfig(ttl=10, min_retries_per_second=1, percent_can_retry=0))
    b.on_request(20.0)
    grant = grant_of(b, 3.0)  # earlier than seen: counted in 20's bucket
    assert grant.at == 20.0
    assert b.counts(25.0) == (1, 1)
    b.refund(grant, 25.0)
    assert b.counts(25.0) == (1, 0)


# -- gRPC: a grant costs nothing --------------------------------------------------------------------


def test_grpc_refund_changes_no_token_and_a_retrys_outcome_counts_as_any_attempts() -> None:
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=10, token_ratio=0.5))
    abandoned, ran = grant_of(b), grant_of(b)
    assert (abandoned.cost, ran.cost) == (0, 0)
    b.refund(abandoned, 0.0)
    assert b.tokens == 10
    b.on_outcome(0.0, ERR, ran)
    assert b.tokens == 9


# -- adaptive: a refund takes the retry's request back ---------------------------------------------


class CyclingRng:
    """Returns ``values`` in turn, forever."""

    def __init__(self, *values: float) -> None:
        self.values = values
        self.calls = 0

    def random(self) -> float:
        self.calls += 1
        return self.values[(self.calls - 1) % len(self.values)]


def test_adaptive_refund_takes_the_retrys_request_back_and_lowers_p() -> None:
    # p stays below 0.99 here: a draw of 0.99 admits, a draw of 0.0 rejects
    b = AdaptiveThrottle(AdaptiveThrottleConfig(k=2), CyclingRng(0.99, 0.0))
    for _ in range(4):
        b.on_request(0.0)
        b.on_outcome(0.0, SHED, None)
    grants = [b.try_acquire_retry(0.0, SHED) for _ in range(6)]
    admitted = [g for g in grants if g is not None]
    assert len(admitted) == 3 and b.counts(0.0) == (10, 0)
    p = b.rejection_probability(0.0)
    for g in admitted:
        b.refund(g, 1.0)
    assert b.counts(1.0) == (7, 0)  # the three locally rejected retries stay counted
    assert b.rejection_probability(1.0) == pytest.approx(7 / 8) and p == pytest.approx(10 / 11)


def test_adaptive_retrys_outcome_counts_an_accept_and_keeps_its_request() -> None:
    b = AdaptiveThrottle(AdaptiveThrottleConfig(), random.Random(0))
    b.on_outcome(0.0, OK, grant_of(b))
    b.on_outcome(0.0, TIMEOUT, grant_of(b))
    assert b.counts(0.0) == (2, 1) and b.outstanding == 0


def test_adaptive_refund_after_the_window_passed_changes_nothing() -> None:
    b = AdaptiveThrottle(AdaptiveThrottleConfig(window=120, buckets=60), random.Random(0))
    grant = grant_of(b, 0.0)
    b.on_request(100.0)
    b.refund(grant, 120.0)  # its bucket (0 s) has left the window
    assert b.counts(120.0) == (1, 0)
