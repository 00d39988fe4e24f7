"""16 threads x 6,000 requests through one pipeline: one breaker and one retry budget shared.

Every request runs the real ``Execution`` (deadline → retry → breaker) with
its waits skipped; time comes from a shared tick counter. Some requests are
cancelled during a wait or an attempt, and some oversleep their deadline, so
every path that abandons a granted retry is taken, and the breaker refuses
retries. The breaker and the budget are wrapped in recording proxies
(``leases.py``) that count every lease issued and settled, independently of
the execution. Afterwards: no lease unsettled or settled twice, every request
ended exactly once, the breaker's counts match what the callers saw, its
window totals equal the sum of its buckets, only allowed transitions happened,
and the budget's tokens stayed within [0, capacity].

Negative controls: the same run with both locks swapped for no-op locks must
break an invariant; an execution that drops the refund on cancel must leave
exactly the grants of the cancelled retries unsettled.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from concurrency import hammer, swap_lock
from leases import LeaseLedger, RecordingBreaker, RecordingBudget

import resilience.pipeline
from resilience.breaker import ALLOWED_TRANSITIONS
from resilience.core import (
    Attempt,
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Deadline,
    Done,
    Execution,
    FailureReason,
    GiveUp,
    Outcome,
    Pipeline,
    RetryConfig,
    Step,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
    Wait,
)

THREADS = 16
CALLS = 6_000
DT = 0.001
CAPACITY = 200
DEADLINE = 1.0
CANCEL_IN_WAIT = 0.03
CANCEL_IN_ATTEMPT = 0.01
OVERSLEEP = 0.03  # a wait that wakes after the request's deadline

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
    paths: Counter[str] = field(default_factory=Counter)
    tokens_seen: list[int] = field(default_factory=list)


@dataclass
class Edge:
    pipeline: Pipeline
    breaker: CircuitBreaker
    budget: TokenBucketBudget
    ledger: LeaseLedger
    transitions: list[tuple[BreakerState, BreakerState]]


def _edge() -> Edge:
    seen: list[tuple[BreakerState, BreakerState]] = []
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
    ledger = LeaseLedger()
    p = Pipeline(
        RetryConfig(max_attempts=3),
        breaker=RecordingBreaker(breaker, ledger),
        budget=RecordingBudget(budget, ledger),
        rng=random.Random(3),
    )
    return Edge(p, breaker, budget, ledger, seen)


def _worker(edge: Edge, ticks: itertools.count[int]) -> Callable[[int, int], Tally]:
    p, budget = edge.pipeline, edge.budget

    def now() -> float:
        return next(ticks) * DT

    def work(i: int, calls: int) -> Tally:
        rng = random.Random(i)
        t = Tally()
        for _ in range(calls):
            t.requests += 1
            bad = (next(ticks) * DT // 5.0) % 2 == 1  # unhealthy and healthy phases alternate
            start = now()
            ex = p.begin(start, Deadline(start + DEADLINE))
            step: Step = ex.next(now())
            previous: Step | None = None
            while True:
                current = step
                if isinstance(step, Attempt):
                    t.attempts += 1
                    r = rng.random()
                    if r < CANCEL_IN_ATTEMPT:
                        t.paths["cancel_in_attempt" if step.number == 1 else "cancel_in_retry"] += 1
                        step = ex.cancel(now())
                    else:
                        outcome = ERR if r < (0.7 if bad else 0.1) else TIMEOUT if r < 0.75 else OK
                        step = ex.next(now(), outcome)
                elif isinstance(step, Wait):
                    r = rng.random()
                    if r < CANCEL_IN_WAIT:
                        t.paths["cancel_in_wait"] += 1
                        step = ex.cancel(now())
                    elif r < CANCEL_IN_WAIT + OVERSLEEP:
                        step = ex.next(start + DEADLINE + 1.0)
                    else:
                        step = ex.next(now())
                elif isinstance(step, Done):
                    t.successes += 1
                    break
                else:
                    assert isinstance(step, GiveUp)
                    t.failures[step.reason.value] += 1
                    if step.reason is FailureReason.BREAKER_OPEN:
                        t.breaker_refusals += 1
                    if isinstance(previous, Wait) and step.reason is FailureReason.BREAKER_OPEN:
                        t.paths["breaker_refused_retry"] += 1
                    if isinstance(previous, Wait) and step.reason is FailureReason.DEADLINE_EXCEEDED:
                        t.paths["deadline_after_wait"] += 1
                    break
                previous = current
            if t.requests % 97 == 0:
                t.tokens_seen.append(budget.tokens)
        return t

    return work


def _invariants(edge: Edge, tallies: list[Tally], calls: int) -> list[str]:
    broken: list[str] = []
    breaker, budget, ledger = edge.breaker, edge.budget, edge.ledger
    requests = sum(t.requests for t in tallies)
    successes = sum(t.successes for t in tallies)
    failures: Counter[str] = sum((t.failures for t in tallies), Counter())
    attempts = sum(t.attempts for t in tallies)
    refusals = sum(t.breaker_refusals for t in tallies)
    if requests != THREADS * calls or requests != successes + sum(failures.values()):
        broken.append(f"requests {requests} != successes {successes} + failures {sum(failures.values())}")
    if ledger.unsettled():
        broken.append(f"unsettled leases {dict(ledger.unsettled())}")
    if ledger.bad:
        broken.append(f"{len(ledger.bad)} leases settled twice or never issued, e.g. {ledger.bad[0]}")
    if ledger.issued["permit"] != attempts:
        broken.append(f"{ledger.issued['permit']} permits issued != {attempts} attempts")
    m = breaker.metrics()
    if m.not_permitted != refusals:
        broken.append(f"breaker not_permitted {m.not_permitted} != {refusals} refusals seen")
    if m.recorded + m.ignored + m.released != attempts:
        broken.append(f"breaker recorded {m.recorded + m.ignored + m.released} != {attempts} attempts")
    if not breaker.window_check():
        broken.append("breaker window totals != sum of its buckets")
    bad = [x for x in edge.transitions if x not in ALLOWED_TRANSITIONS]
    if bad:
        broken.append(f"disallowed transitions {bad[:3]}")
    for s in BreakerState:
        ins = sum(n for (a, b), n in m.transitions.items() if b is s)
        outs = sum(n for (a, b), n in m.transitions.items() if a is s)
        if ins - outs != int(s is m.state) - int(s is BreakerState.CLOSED):
            broken.append(f"{s.value}: {ins} entries - {outs} exits inconsistent")
    tokens = [tok for t in tallies for tok in t.tokens_seen] + [budget.tokens]
    if not all(0 <= tok <= CAPACITY for tok in tokens):
        broken.append(f"budget tokens out of [0, {CAPACITY}]: {min(tokens)}..{max(tokens)}")
    return broken


def run_once(*, no_op_lock: bool = False, calls: int = CALLS) -> tuple[list[str], Edge, Counter[str]]:
    edge = _edge()
    if no_op_lock:
        swap_lock(edge.breaker)
        swap_lock(edge.budget)
    try:
        tallies = hammer(_worker(edge, itertools.count()), THREADS, calls)
    except (AssertionError, ValueError, KeyError) as exc:  # a consistency check inside raised
        return [f"raised {exc!r}"], edge, Counter()
    paths: Counter[str] = sum((t.paths for t in tallies), Counter())
    for t in tallies:
        paths.update({f"failure:{k}": n for k, n in t.failures.items()})
        paths["success"] += t.successes
    return _invariants(edge, tallies, calls), edge, paths


def test_shared_breaker_and_budget_settle_every_lease_and_keep_their_invariants() -> None:
    broken, edge, paths = run_once()
    assert broken == []
    assert edge.ledger.unsettled() == {} and edge.ledger.bad == []
    assert sum(edge.ledger.issued.values()) == sum(edge.ledger.settled.values()) > 0
    assert edge.budget.outstanding == 0 and edge.budget.tokens <= CAPACITY
    # the run took every path that abandons a granted retry, and the breaker refused retries
    for path in ("breaker_refused_retry", "deadline_after_wait", "cancel_in_wait", "cancel_in_retry"):
        assert paths[path] > 0, f"no {path} in {dict(paths)}"
    assert paths["failure:budget_exhausted"] > 0 and paths["success"] > 0
    assert edge.ledger.settled["grant:refund"] > 0 and edge.ledger.settled["grant:ran"] > 0
    assert (BreakerState.HALF_OPEN, BreakerState.CLOSED) in edge.breaker.metrics().transitions


def test_negative_control_no_op_locks_break_an_invariant() -> None:
    runs = []
    for _ in range(3):
        broken, _, _ = run_once(no_op_lock=True)
        runs.append(broken)
        if broken:
            break
    assert any(runs), "with no-op locks every invariant held: the test cannot see the race"


class DropsTheRefundOnCancel(Execution):
    """A defective execution: on cancel it forgets the grant it holds instead of settling it."""

    __slots__ = ()

    def cancel(self, now: float) -> Step:
        self._grant = None
        return super().cancel(now)


def test_negative_control_a_dropped_refund_path_leaves_grants_unsettled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resilience.pipeline, "Execution", DropsTheRefundOnCancel)
    broken, edge, paths = run_once(calls=2_000)
    leaked = edge.ledger.unsettled()
    assert leaked["grant"] > 0 and any("unsettled leases" in b for b in broken)
    # exactly the grants of the retries cancelled while waiting or running
    assert leaked == {"grant": paths["cancel_in_wait"] + paths["cancel_in_retry"]}
