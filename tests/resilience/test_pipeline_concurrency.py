"""16 threads x 10,000 requests through one pipeline: one breaker and one retry budget shared.

Every request runs the real ``Execution`` (deadline → retry → breaker) with
its waits skipped; time comes from a shared tick counter. Afterwards the
order-independent invariants must hold: every request ended exactly once
(requests = successes + failures), the breaker's counts match what the callers
saw (calls = recorded + released + not permitted), its window totals equal the
sum of its buckets, only allowed transitions happened, and the budget's tokens
stayed within [0, capacity]. The negative control runs the same function with
both locks swapped for no-op locks and must see an invariant break.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from concurrency import hammer, swap_lock

from resilience import (
    Attempt,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Done,
    GiveUp,
    Outcome,
    Pipeline,
    RetryConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
    Wait,
)
from resilience.breaker import ALLOWED_TRANSITIONS

THREADS = 16
CALLS = 10_000
DT = 0.001
CAPACITY = 200

ERR = Outcome.error("http_503", retryable=True)
OK = Outcome.success()
TIMEOUT = Outcome.timeout()


@dataclass
class Tally:
    requests: int = 0
    successes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    breaker_refusals: int = 0
    tokens_seen: list[int] = field(default_factory=list)


def _pipeline(seen: list[tuple[BreakerState, BreakerState]]) -> Pipeline:
    breaker = CircuitBreaker(
        BreakerConfig(
            window_type="time",
            window_size=2.0,
            bucket_seconds=0.1,
            minimum_calls=20,
            failure_rate_threshold=0.5,
            wait_in_open=0.05,
            permitted_calls_in_half_open=4,
        ),
        state_listeners=[lambda n, a, b, t: seen.append((a, b))],
    )
    budget = TokenBucketBudget(TokenBucketBudgetConfig(capacity=CAPACITY))
    return Pipeline(RetryConfig(max_attempts=3), breaker=breaker, budget=budget, rng=random.Random(3))


def _worker(p: Pipeline, ticks: itertools.count[int]) -> Callable[[int, int], Tally]:
    budget = p.budget
    assert isinstance(budget, TokenBucketBudget)

    def work(i: int, calls: int) -> Tally:
        rng = random.Random(i)
        t = Tally()
        for _ in range(calls):
            t.requests += 1
            bad = (next(ticks) * DT // 5.0) % 2 == 1  # unhealthy and healthy phases alternate
            ex = p.begin(next(ticks) * DT)
            step = ex.next(next(ticks) * DT)
            while True:
                if isinstance(step, Attempt):
                    t.attempts += 1
                    r = rng.random()
                    outcome = ERR if r < (0.7 if bad else 0.1) else TIMEOUT if r < 0.75 else OK
                    step = ex.next(next(ticks) * DT, outcome)
                elif isinstance(step, Wait):
                    step = ex.next(next(ticks) * DT)
                elif isinstance(step, Done):
                    t.successes += 1
                    break
                else:
                    assert isinstance(step, GiveUp)
                    t.failures[step.reason.value] += 1
                    if step.reason.value == "breaker_open":
                        t.breaker_refusals += 1
                    break
            if t.requests % 97 == 0:
                t.tokens_seen.append(budget.tokens)
        return t

    return work


def run_once(*, no_op_lock: bool) -> tuple[list[str], Pipeline]:
    seen: list[tuple[BreakerState, BreakerState]] = []
    p = _pipeline(seen)
    assert isinstance(p.breaker, CircuitBreaker) and isinstance(p.budget, TokenBucketBudget)
    if no_op_lock:
        swap_lock(p.breaker)
        swap_lock(p.budget)
    tallies = hammer(_worker(p, itertools.count()), THREADS, CALLS)
    broken: list[str] = []
    requests = sum(t.requests for t in tallies)
    successes = sum(t.successes for t in tallies)
    failures: Counter[str] = sum((t.failures for t in tallies), Counter())
    attempts = sum(t.attempts for t in tallies)
    refusals = sum(t.breaker_refusals for t in tallies)
    if requests != THREADS * CALLS or requests != successes + sum(failures.values()):
        broken.append(f"requests {requests} != successes {successes} + failures {sum(failures.values())}")
    m = p.breaker.metrics()
    if m.not_permitted != refusals:
        broken.append(f"breaker not_permitted {m.not_permitted} != {refusals} refusals seen")
    if m.recorded + m.ignored + m.released != attempts:
        broken.append(f"breaker recorded {m.recorded + m.ignored + m.released} != {attempts} attempts")
    if not p.breaker.window_check():
        broken.append("breaker window totals != sum of its buckets")
    bad = [x for x in seen if x not in ALLOWED_TRANSITIONS]
    if bad:
        broken.append(f"disallowed transitions {bad[:3]}")
    for s in BreakerState:
        ins = sum(n for (a, b), n in m.transitions.items() if b is s)
        outs = sum(n for (a, b), n in m.transitions.items() if a is s)
        if ins - outs != int(s is m.state) - int(s is BreakerState.CLOSED):
            broken.append(f"{s.value}: {ins} entries - {outs} exits inconsistent")
    tokens = [tok for t in tallies for tok in t.tokens_seen] + [p.budget.tokens]
    if not all(0 <= tok <= CAPACITY for tok in tokens):
        broken.append(f"budget tokens out of [0, {CAPACITY}]: {min(tokens)}..{max(tokens)}")
    if not no_op_lock:  # the run exercised every path the invariants speak of
        assert failures["budget_exhausted"] > 0 and failures["breaker_open"] > 0 and successes > 0
        assert (BreakerState.HALF_OPEN, BreakerState.CLOSED) in m.transitions
    return broken, p


def test_shared_breaker_and_budget_keep_their_invariants() -> None:
    broken, _ = run_once(no_op_lock=False)
    assert broken == []


def test_negative_control_no_op_locks_break_an_invariant() -> None:
    runs = []
    for _ in range(3):
        broken, _ = run_once(no_op_lock=True)
        runs.append(broken)
        if broken:
            break
    assert any(runs), "with no-op locks every invariant held: the test cannot see the race"
