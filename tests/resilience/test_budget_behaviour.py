"""Each retry budget against its reference definition, on manual time."""

from __future__ import annotations

import random

import pytest

from resilience.backoff import ConstantBackoff
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
from resilience.outcome import CANCELLED, FailureReason, Outcome
from resilience.pipeline import Pipeline
from resilience.protocols import BudgetLike, Grant
from resilience.retry import RetryConfig
from resilience.steps import Attempt, Done, GiveUp, Wait

OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
PERM = Outcome.error("http_400", retryable=False)
SHED = Outcome.rejected("http_503")
TIMEOUT = Outcome.timeout()


class ScriptedRng:
    """Returns the given values in order and records how often it was asked."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls = 0

    def random(self) -> float:
        self.calls += 1
        return self.values.pop(0)


def test_every_budget_satisfies_the_protocol() -> None:
    budgets: list[BudgetLike] = [
        TokenBucketBudget(),
        RatioBudget(),
        GrpcRetryThrottle(),
        AdaptiveThrottle(AdaptiveThrottleConfig(), random.Random(0)),
    ]
    for b in budgets:
        assert b.on_request(0.0) is True  # fresh budgets admit
        grant = b.try_acquire_retry(0.0, ERR)
        assert isinstance(grant, Grant) and grant.at == 0.0
        b.on_outcome(0.0, OK, grant)
        assert b.available(0.0) >= 0


# -- AWS token bucket -----------------------------------------------------------------------------


def test_token_bucket_starts_full_and_a_retry_takes_retry_cost() -> None:
    b = TokenBucketBudget()
    assert b.available(0) == 500
    assert b.try_acquire_retry(0, ERR)
    assert b.tokens == 495


def test_token_bucket_timeout_costs_timeout_cost_and_a_server_rejection_costs_retry_cost() -> None:
    b = TokenBucketBudget()
    assert b.try_acquire_retry(0, TIMEOUT)
    assert b.tokens == 490
    assert b.try_acquire_retry(0, SHED)
    assert b.tokens == 485
    assert (b.cost(TIMEOUT), b.cost(SHED), b.cost(ERR)) == (10, 5, 5)


def test_token_bucket_refuses_when_the_cost_is_not_available_and_leaves_tokens_untouched() -> None:
    b = TokenBucketBudget(TokenBucketBudgetConfig(capacity=12))
    assert b.try_acquire_retry(0, ERR)  # 7 left
    assert not b.try_acquire_retry(0, TIMEOUT)  # 10 > 7
    assert b.tokens == 7
    assert b.try_acquire_retry(0, ERR)  # 2 left
    assert not b.try_acquire_retry(0, ERR)
    assert b.tokens == 2


def test_token_bucket_first_attempt_success_refunds_no_retry_increment_capped_at_capacity() -> None:
    b = TokenBucketBudget()
    b.on_outcome(0, OK, None)
    assert b.tokens == 500  # already full: the refund is dropped
    grant = b.try_acquire_retry(0, ERR)
    b.on_outcome(0, ERR, grant)  # the retry failed: no refund
    assert b.tokens == 495
    b.on_outcome(0, OK, None)
    assert b.tokens == 496


def test_token_bucket_failures_on_first_attempts_change_nothing() -> None:
    b = TokenBucketBudget()
    for o in (ERR, PERM, SHED, TIMEOUT, CANCELLED):
        b.on_outcome(0, o, None)
    assert b.tokens == 500


def test_token_bucket_successful_retry_refunds_its_own_cost() -> None:
    b = TokenBucketBudget()
    b.on_outcome(1, OK, b.try_acquire_retry(0, TIMEOUT))
    assert b.tokens == 500
    first = b.try_acquire_retry(0, ERR)
    b.try_acquire_retry(0, ERR)
    b.on_outcome(1, OK, first)
    assert b.tokens == 495


def test_token_bucket_successful_retry_refunds_exactly_its_own_grant_whatever_else_is_outstanding() -> None:
    # Two requests retry at once: A after a timeout (10), B after an error (5). A's retry succeeds
    # while B's grant is outstanding. The old budget did not know which grant an outcome settled and
    # credited the cheapest outstanding cost (5); A's grant must get exactly its 10 back.
    b = TokenBucketBudget()
    grant_a = b.try_acquire_retry(0, TIMEOUT)
    grant_b = b.try_acquire_retry(0, ERR)
    assert b.tokens == 485
    b.on_outcome(1, OK, grant_a)
    assert b.tokens == 495, f"credited {b.tokens - 485} for a grant of cost 10"
    b.on_outcome(1, OK, grant_b)
    assert b.tokens == 500


def test_token_bucket_settling_a_grant_twice_refunds_it_once() -> None:
    b = TokenBucketBudget()
    grant = b.try_acquire_retry(0, ERR)
    assert grant is not None
    b.on_outcome(0, ERR, grant)  # settles the grant, no refund
    b.on_outcome(0, OK, grant)  # already settled: no refund, and not a first attempt either
    b.refund(grant, 0)
    assert b.tokens == 495 and b.outstanding == 0


def test_token_bucket_is_time_independent_and_never_refuses_a_request() -> None:
    b = TokenBucketBudget(TokenBucketBudgetConfig(capacity=10, retry_cost=10))
    assert b.try_acquire_retry(0, ERR)
    assert not b.try_acquire_retry(1e9, ERR)  # no refill over time
    assert b.on_request(1e9)


def test_token_bucket_through_the_pipeline_exhausts_then_refuses_retries() -> None:
    budget = TokenBucketBudget(TokenBucketBudgetConfig(capacity=10, retry_cost=5))
    pipeline = Pipeline(RetryConfig(max_attempts=5, backoff=ConstantBackoff(base=0.0)), budget=budget)
    ex = pipeline.begin(0.0)
    steps = []
    step = ex.next(0.0)
    while isinstance(step, (Attempt, Wait)):
        step = ex.next(0.0, ERR) if isinstance(step, Attempt) else ex.next(0.0)
        steps.append(type(step).__name__)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.BUDGET_EXHAUSTED
    assert ex.attempts == 3  # two retries of cost 5 fit in 10
    assert budget.tokens == 0 and budget.outstanding == 0  # both retries ran: their grants settled
    # a request whose retry then succeeds gets the cost back
    budget2 = TokenBucketBudget(TokenBucketBudgetConfig(capacity=10, retry_cost=5))
    p2 = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.0)), budget=budget2)
    ex2 = p2.begin(0.0)
    ex2.next(0.0)
    assert isinstance(ex2.next(0.0, ERR), Wait)
    assert budget2.tokens == 5
    ex2.next(0.0)
    assert isinstance(ex2.next(0.0, OK), Done)
    assert budget2.tokens == 10 and budget2.outstanding == 0


# -- Finagle ratio budget -------------------------------------------------------------------------


def test_ratio_reserve_alone_allows_min_retries_per_second_times_ttl() -> None:
    b = RatioBudget()  # reserve 10/s * 10 s = 100
    assert sum(b.try_acquire_retry(0, ERR) is not None for _ in range(150)) == 100
    assert b.available(0) == 0


def test_ratio_allows_percent_of_requests() -> None:
    b = RatioBudget(RatioBudgetConfig(min_retries_per_second=0, percent_can_retry=0.2))
    for _ in range(10):
        b.on_request(0)
    assert b.available(0) == 2
    assert [b.try_acquire_retry(0, ERR) is not None for _ in range(3)] == [True, True, False]
    for _ in range(5):
        b.on_request(0)
    assert b.try_acquire_retry(0, ERR)
    assert not b.try_acquire_retry(0, ERR)
    assert b.counts(0) == (15, 3)


def test_ratio_percent_above_one_allows_several_retries_per_request() -> None:
    b = RatioBudget(RatioBudgetConfig(min_retries_per_second=0, percent_can_retry=2.0))
    b.on_request(0)
    assert [b.try_acquire_retry(0, ERR) is not None for _ in range(3)] == [True, True, False]


def test_ratio_float_rounding_does_not_lose_a_retry() -> None:
    b = RatioBudget(RatioBudgetConfig(min_retries_per_second=0, percent_can_retry=0.1))
    for _ in range(30):
        b.on_request(0)
    assert (
        sum(b.try_acquire_retry(0, ERR) is not None for _ in range(5)) == 3
    )  # 0.1 * 30 = 3.0000000000000004


def test_ratio_deposits_and_withdrawals_expire_after_ttl() -> None:
    # ttl 10 s in 10 buckets: an event leaves the window once its 1-second bucket is 10 buckets old
    b = RatioBudget(RatioBudgetConfig(ttl=10, min_retries_per_second=0.2, percent_can_retry=0.5))
    assert b.try_acquire_retry(0.5, ERR) and b.try_acquire_retry(0.5, ERR)  # the reserve of 2
    assert not b.try_acquire_retry(5, ERR)
    b.on_request(5)  # +0.5 retry: still not a whole one
    assert not b.try_acquire_retry(9.999, ERR)
    assert b.try_acquire_retry(10.0, ERR)  # the two retries of bucket 0 expired
    assert b.counts(10.0) == (1, 1)
    assert b.counts(15.0) == (0, 1)  # the request of bucket 5 expired
    assert b.counts(25.0) == (0, 0)


def test_ratio_zero_percent_and_zero_reserve_never_retries() -> None:
    b = RatioBudget(RatioBudgetConfig(min_retries_per_second=0, percent_can_retry=0))
    for _ in range(100):
        b.on_request(0)
    assert not b.try_acquire_retry(0, ERR)


def test_ratio_outcomes_change_nothing_and_requests_are_never_refused() -> None:
    b = RatioBudget(RatioBudgetConfig(min_retries_per_second=0, percent_can_retry=1))
    assert b.on_request(0)
    for o in (OK, ERR, TIMEOUT, SHED, CANCELLED):
        b.on_outcome(0, o, None)
    grant = b.try_acquire_retry(0, ERR)
    for o in (OK, ERR, TIMEOUT, SHED, CANCELLED):
        b.on_outcome(0, o, grant)  # the retry ran: its withdrawal stays
    assert b.counts(0) == (1, 1)


def test_ratio_time_running_backwards_counts_in_the_newest_bucket() -> None:
    b = RatioBudget(RatioBudgetConfig(ttl=10, min_retries_per_second=0, percent_can_retry=1))
    b.on_request(20)
    b.on_request(3)  # earlier than seen: counted at 20's bucket, not resurrecting old buckets
    assert b.counts(20) == (2, 0)
    assert b.counts(30) == (0, 0)


# -- gRPC retry throttling ------------------------------------------------------------------------


def test_grpc_follows_the_a6_reference_sequence() -> None:
    # gRPC C-core retry_throttle_test: max 4 (threshold 2), ratio 1.6
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=4, token_ratio=1.6))
    b.on_outcome(0, ERR, None)
    grant = b.try_acquire_retry(0, ERR)
    assert b.tokens == 3 and grant is not None and grant.cost == 0
    b.on_outcome(0, OK, grant)
    assert b.tokens == 4  # capped at max
    b.on_outcome(0, ERR, None)
    grant = b.try_acquire_retry(0, ERR)
    assert grant is not None
    b.on_outcome(0, ERR, grant)
    assert b.tokens == 2 and not b.try_acquire_retry(0, ERR)  # at the threshold: no retries
    b.on_outcome(0, OK, None)
    assert b.tokens == 3.6 and b.try_acquire_retry(0, ERR)


def test_grpc_counts_retryable_failures_only() -> None:
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=10))
    for o in (PERM, CANCELLED):
        b.on_outcome(0, o, None)
    assert b.tokens == 10
    for o in (ERR, SHED, TIMEOUT):
        b.on_outcome(0, o, None)
    assert b.tokens == 7


def test_grpc_tokens_floor_at_zero_and_a_granted_retry_takes_nothing() -> None:
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=2, token_ratio=0.5))
    assert b.try_acquire_retry(0, ERR) and b.tokens == 2
    for _ in range(5):
        b.on_outcome(0, ERR, None)
    assert b.tokens == 0
    b.on_outcome(0, OK, None)
    b.on_outcome(0, OK, None)
    assert b.tokens == 1 and not b.try_acquire_retry(0, ERR)  # 1 is not above 2/2
    b.on_outcome(0, OK, None)
    assert b.available(0) == 1.5 and b.try_acquire_retry(0, ERR)
    assert b.on_request(0)


def test_grpc_milli_token_arithmetic_is_exact() -> None:
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=10, token_ratio=0.1))
    for _ in range(6):
        b.on_outcome(0, ERR, None)
    for _ in range(10):
        b.on_outcome(0, OK, None)  # 4 + 10 * 0.1 = 5.0 exactly: still at the threshold
    assert b.tokens == 5.0 and not b.try_acquire_retry(0, ERR)
    b.on_outcome(0, OK, None)
    assert b.try_acquire_retry(0, ERR)


# -- SRE adaptive throttling ----------------------------------------------------------------------


def test_adaptive_admits_everything_while_p_is_zero_without_drawing() -> None:
    rng = ScriptedRng()
    b = AdaptiveThrottle(AdaptiveThrottleConfig(), rng)
    for _ in range(5):
        assert b.on_request(0)
        b.on_outcome(0, OK, None)
    assert rng.calls == 0
    assert b.counts(0) == (5, 5)
    assert b.available(0) == 5  # 2 * 5 - 5


def test_adaptive_rejection_probability_and_draws() -> None:
    b = AdaptiveThrottle(AdaptiveThrottleConfig(k=2), ScriptedRng(0.6, 0.4))
    w = b._window
    w.advance(0)
    w.add(0, 10)  # 10 requests
    w.add(1, 3)  # 3 accepts
    p = (10 - 2 * 3) / 11
    assert b.rejection_probability(0) == pytest.approx(p)
    assert b.on_request(0)  # 0.6 >= p: admitted
    assert b.counts(0) == (11, 3)
    p2 = (11 - 6) / 12
    assert b.rejection_probability(0) == pytest.approx(p2)
    assert not b.try_acquire_retry(0, ERR)  # 0.4 < p2: a retry is rejected too
    assert b.counts(0) == (12, 3)  # and counted as a request


def test_adaptive_accepts_are_success_error_and_cancelled() -> None:
    b = AdaptiveThrottle(AdaptiveThrottleConfig(), random.Random(0))
    for o in (OK, ERR, PERM, CANCELLED):
        b.on_outcome(0, o, None)
    assert b.counts(0) == (0, 4)
    for o in (SHED, TIMEOUT):
        b.on_outcome(0, o, None)
    assert b.counts(0) == (0, 4)


def test_adaptive_history_expires_with_the_window() -> None:
    b = AdaptiveThrottle(AdaptiveThrottleConfig(window=120, buckets=60), ScriptedRng(*[0.999] * 50))
    for _ in range(20):
        b.on_request(0)
    assert b.rejection_probability(0) == pytest.approx(20 / 21)
    assert b.rejection_probability(119.9) == pytest.approx(20 / 21)
    assert b.rejection_probability(120.0) == 0.0
    assert b.counts(120.0) == (0, 0)


def test_adaptive_sends_about_k_times_what_the_backend_accepts() -> None:
    # SRE book: under overload the client lets through about K * accepts requests.
    # 100 requests/s, a backend that accepts 20/s and sheds the rest, K = 2:
    # about 40/s are sent, so about 60 % are rejected locally.
    b = AdaptiveThrottle(AdaptiveThrottleConfig(window=60, buckets=30, k=2), random.Random(7))
    sent_late = rejected_late = 0
    for second in range(300):
        accepted = 0
        for i in range(100):
            now = second + i / 100
            if not b.on_request(now):
                rejected_late += second >= 150
                continue
            sent_late += second >= 150
            if accepted < 20:
                accepted += 1
                b.on_outcome(now, OK, None)
            else:
                b.on_outcome(now, SHED, None)
    assert rejected_late / (150 * 100) == pytest.approx(0.6, abs=0.03)
    assert sent_late / 150 == pytest.approx(40, abs=3)
