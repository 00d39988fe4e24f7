"""Hypothesis properties of the retry budgets: bounds, conservation, window limits, formulas."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

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
from resilience.outcome import CANCELLED, Outcome

OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
PERM = Outcome.error("http_400", retryable=False)
SHED = Outcome.rejected("http_503")
TIMEOUT = Outcome.timeout()
OUTCOMES = [OK, ERR, PERM, SHED, TIMEOUT, CANCELLED]

# -- token bucket: bounds and conservation ---------------------------------------------------------

token_ops = st.lists(
    st.tuples(st.sampled_from(["acquire", "first", "retry"]), st.sampled_from(OUTCOMES)), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 60),
    retry_cost=st.integers(1, 60),
    timeout_cost=st.integers(1, 60),
    increment=st.integers(0, 60),
    ops=token_ops,
)
def test_token_bucket_bounds_and_conservation(
    capacity: int, retry_cost: int, timeout_cost: int, increment: int, ops: list[tuple[str, Outcome]]
) -> None:
    retry_cost, timeout_cost, increment = (min(v, capacity) for v in (retry_cost, timeout_cost, increment))
    cfg = TokenBucketBudgetConfig(
        capacity=capacity, retry_cost=retry_cost, timeout_cost=timeout_cost, no_retry_increment=increment
    )
    b = TokenBucketBudget(cfg)
    granted = refunded = 0
    open_costs: list[int] = []  # costs granted and not yet resolved by a retry's outcome
    for op, outcome in ops:
        before = b.tokens
        if op == "acquire":
            cost = timeout_cost if outcome is TIMEOUT else retry_cost
            ok = b.try_acquire_retry(0, outcome)
            assert ok == (before >= cost)  # granted exactly when the cost is available
            if ok:
                granted += cost
                open_costs.append(cost)
        else:
            retry = op == "retry"
            b.on_outcome(0, outcome, retry=retry)
            nominal = 0
            if retry and open_costs:
                resolved = min(open_costs)  # the smaller cost resolves first
                open_costs.remove(resolved)
                nominal = resolved if outcome.ok else 0
            elif not retry and outcome.ok:
                nominal = increment
            applied = min(nominal, capacity - before)  # clipped at capacity
            assert b.tokens == before + applied
            refunded += applied
        assert 0 <= b.tokens <= capacity
        assert b.tokens == capacity - granted + refunded


# -- ratio budget: the windowed limit, checked by brute force over all events ----------------------

ratio_ops = st.lists(
    st.tuples(st.floats(0, 4, allow_nan=False), st.sampled_from(["request", "retry"]), st.integers(1, 5)),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(
    ttl=st.floats(1, 60),
    minimum=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    percent=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0, 2.5]),
    buckets=st.integers(1, 12),
    ops=ratio_ops,
)
def test_ratio_budget_grants_within_every_window(
    ttl: float, minimum: float, percent: float, buckets: int, ops: list[tuple[float, str, int]]
) -> None:
    cfg = RatioBudgetConfig(
        ttl=ttl, min_retries_per_second=minimum, percent_can_retry=percent, buckets=buckets
    )
    b = RatioBudget(cfg)
    width = ttl / buckets
    now = 0.0
    events: list[tuple[int, str]] = []  # (bucket index, kind) of every counted event
    for dt, kind, n in ops:
        now += dt
        idx = math.floor(now / width)
        for _ in range(n):
            if kind == "request":
                b.on_request(now)
                events.append((idx, "request"))
                continue
            in_window = [k for i, k in events if idx - buckets < i <= idx]
            requests, retries = in_window.count("request"), in_window.count("retry")
            allowed = retries + 1 <= percent * requests + cfg.reserve + 1e-9
            assert b.try_acquire_retry(now, ERR) == allowed
            if allowed:
                events.append((idx, "retry"))
                # the window ending at this grant holds no more retries than the rule allows
                assert retries + 1 <= percent * requests + cfg.reserve + 1e-9
        w = b._window
        assert w.totals == w.bucket_sums()
        assert list(b.counts(now)) == [
            sum(1 for i, k in events if idx - buckets < i <= idx and k == name)
            for name in ("request", "retry")
        ]


# -- gRPC: retries granted only above half ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    max_tokens=st.integers(1, 20),
    ratio_milli=st.integers(1, 3000),
    ops=st.lists(st.tuples(st.sampled_from(OUTCOMES), st.booleans()), max_size=200),
)
def test_grpc_retries_only_above_half_and_tokens_stay_in_bounds(
    max_tokens: int, ratio_milli: int, ops: list[tuple[Outcome, bool]]
) -> None:
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=max_tokens, token_ratio=ratio_milli / 1000))
    milli = max_tokens * 1000
    for outcome, retry in ops:
        b.on_outcome(0, outcome, retry=retry)
        if outcome.ok:
            milli = min(max_tokens * 1000, milli + ratio_milli)
        elif outcome.retryable and outcome is not CANCELLED:
            milli = max(0, milli - 1000)
        assert b.tokens == milli / 1000
        assert 0 <= b.tokens <= max_tokens
        assert b.try_acquire_retry(0, outcome) == (b.tokens > max_tokens / 2)
        assert b.tokens == milli / 1000  # asking takes nothing


# -- adaptive: p in [0, 1) and the formula ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    k=st.floats(1, 5),
    seed=st.integers(0, 2**32),
    ops=st.lists(st.tuples(st.floats(0, 3), st.sampled_from(["request", "retry", *range(6)])), max_size=200),
)
def test_adaptive_p_is_a_probability_matching_the_formula(
    k: float, seed: int, ops: list[tuple[float, str | int]]
) -> None:
    b = AdaptiveThrottle(AdaptiveThrottleConfig(window=10, buckets=5, k=k), random.Random(seed))
    now = 0.0
    for dt, op in ops:
        now += dt
        p = b.rejection_probability(now)
        requests, accepts = b.counts(now)
        assert 0.0 <= p < 1.0
        assert p == max(0.0, (requests - k * accepts) / (requests + 1))
        if op == "request":
            b.on_request(now)
            assert b.counts(now) == (requests + 1, accepts)  # rejected or not, it counts
        elif op == "retry":
            b.try_acquire_retry(now, ERR)
            assert b.counts(now) == (requests + 1, accepts)
        else:
            assert isinstance(op, int)
            outcome = OUTCOMES[op]
            b.on_outcome(now, outcome, retry=False)
            accepted = outcome not in (SHED, TIMEOUT)
            assert b.counts(now) == (requests, accepts + accepted)
        w = b._window
        assert w.totals == w.bucket_sums()
