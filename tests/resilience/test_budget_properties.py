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
from resilience.protocols import Grant

OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
PERM = Outcome.error("http_400", retryable=False)
SHED = Outcome.rejected("http_503")
TIMEOUT = Outcome.timeout()
OUTCOMES = [OK, ERR, PERM, SHED, TIMEOUT, CANCELLED]

# -- token bucket: bounds and conservation ---------------------------------------------------------

token_ops = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "first", "retry", "refund", "again"]),
        st.sampled_from(OUTCOMES),
        st.integers(0, 1000),
    ),
    max_size=300,
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
    capacity: int, retry_cost: int, timeout_cost: int, increment: int, ops: list[tuple[str, Outcome, int]]
) -> None:
    retry_cost, timeout_cost, increment = (min(v, capacity) for v in (retry_cost, timeout_cost, increment))
    cfg = TokenBucketBudgetConfig(
        capacity=capacity, retry_cost=retry_cost, timeout_cost=timeout_cost, no_retry_increment=increment
    )
    b = TokenBucketBudget(cfg)
    granted = refunded = 0
    open_grants: list[tuple[Grant, int]] = []  # (grant, the cost it took), not yet settled
    settled: list[Grant] = []
    for op, outcome, pick in ops:
        before = b.tokens
        nominal = 0
        if op == "acquire":
            cost = timeout_cost if outcome is TIMEOUT else retry_cost
            grant = b.try_acquire_retry(0, outcome)
            assert (grant is not None) == (before >= cost)  # granted exactly when the cost is available
            if grant is not None:
                assert grant.cost == cost
                granted += cost
                open_grants.append((grant, cost))
            assert b.tokens == before - (cost if grant is not None else 0)
        elif op == "first":
            b.on_outcome(0, outcome, None)
            nominal = increment if outcome.ok else 0
        elif op in ("retry", "refund") and open_grants:
            grant, cost = open_grants.pop(pick % len(open_grants))  # any outstanding grant, in any order
            if op == "retry":
                b.on_outcome(0, outcome, grant)
                nominal = cost if outcome.ok else 0
            else:
                b.refund(grant, 0)
                nominal = cost
            settled.append(grant)
        elif op == "again" and settled:
            grant = settled[pick % len(settled)]
            b.refund(grant, 0)  # settled already: returns nothing
            b.on_outcome(0, outcome, grant)
        if op != "acquire":
            applied = min(nominal, capacity - before)  # clipped at capacity
            assert b.tokens == before + applied
            refunded += applied
        assert 0 <= b.tokens <= capacity
        assert b.tokens == capacity - granted + refunded
        assert b.outstanding == len(open_grants)


# -- ratio budget: the windowed limit, checked by brute force over all events ----------------------

ratio_ops = st.lists(
    st.tuples(
        st.floats(0, 4, allow_nan=False),
        st.sampled_from(["request", "retry", "refund", "ran"]),
        st.integers(1, 5),
    ),
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
    events: list[tuple[int, str]] = []  # (bucket index, kind) of every counted event, in order
    open_grants: list[tuple[Grant, int]] = []  # (grant, index of its withdrawal in events)
    for dt, kind, n in ops:
        now += dt
        idx = math.floor(now / width)
        for _ in range(n):
            if kind == "request":
                b.on_request(now)
                events.append((idx, "request"))
                continue
            if kind in ("refund", "ran"):
                if not open_grants:
                    continue
                grant, at = open_grants.pop(n % len(open_grants))
                if kind == "ran":
                    b.on_outcome(now, ERR, grant)  # the retry ran: its withdrawal stays
                    continue
                b.refund(grant, now)
                if idx - buckets < events[at][0]:  # still in the window: the withdrawal is taken back
                    events[at] = (events[at][0], "refunded")
                continue
            in_window = [k for i, k in events if idx - buckets < i <= idx]
            requests, retries = in_window.count("request"), in_window.count("retry")
            allowed = retries + 1 <= percent * requests + cfg.reserve + 1e-9
            grant = b.try_acquire_retry(now, ERR)
            assert (grant is not None) == allowed
            if grant is not None:
                assert grant.cost == 1 and math.floor(grant.at / width) == idx
                open_grants.append((grant, len(events)))
                events.append((idx, "retry"))
        w = b._window
        assert w.totals == w.bucket_sums()
        assert b.outstanding == len(open_grants)
        assert list(b.counts(now)) == [
            sum(1 for i, k in events if idx - buckets < i <= idx and k == name)
            for name in ("request", "retry")
        ]


# -- gRPC: retries granted only above half ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    max_tokens=st.integers(1, 20),
    ratio_milli=st.integers(1, 3000),
    ops=st.lists(
        st.tuples(st.sampled_from(OUTCOMES), st.sampled_from(["first", "retry", "refund"])), max_size=200
    ),
)
def test_grpc_retries_only_above_half_and_tokens_stay_in_bounds(
    max_tokens: int, ratio_milli: int, ops: list[tuple[Outcome, str]]
) -> None:
    b = GrpcRetryThrottle(GrpcRetryThrottleConfig(max_tokens=max_tokens, token_ratio=ratio_milli / 1000))
    milli = max_tokens * 1000
    grant: Grant | None = None  # the last grant, not yet settled
    for outcome, op in ops:
        if op == "refund":
            if grant is not None:
                b.refund(grant, 0)  # a retry that never ran: no token moves
                grant = None
        else:
            b.on_outcome(0, outcome, grant if op == "retry" else None)
            if op == "retry":
                grant = None
            if outcome.ok:
                milli = min(max_tokens * 1000, milli + ratio_milli)
            elif outcome.retryable and outcome is not CANCELLED:
                milli = max(0, milli - 1000)
        assert b.tokens == milli / 1000
        assert 0 <= b.tokens <= max_tokens
        assert b.outstanding == (grant is not None)
        if grant is None:
            grant = b.try_acquire_retry(0, outcome)
            assert (grant is not None) == (b.tokens > max_tokens / 2)
            assert grant is None or grant.cost == 0
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
            grant = b.try_acquire_retry(now, ERR)
            assert b.counts(now) == (requests + 1, accepts)
            if grant is not None and seed % 2:
                b.refund(grant, now)  # never ran: its request is taken back
                assert b.counts(now) == (requests, accepts)
            elif grant is not None:
                b.on_outcome(now, OK, grant)  # ran and accepted
                assert b.counts(now) == (requests + 1, accepts + 1)
            assert b.outstanding == 0
        else:
            assert isinstance(op, int)
            outcome = OUTCOMES[op]
            b.on_outcome(now, outcome, None)
            accepted = outcome not in (SHED, TIMEOUT)
            assert b.counts(now) == (requests, accepts + accepted)
        w = b._window
        assert w.totals == w.bucket_sums()
