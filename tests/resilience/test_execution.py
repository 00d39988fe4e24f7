"""The sans-I/O execution: every give-up reason, waits, deadlines, attempt timeouts, misuse."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest

from resilience.core import (
    Attempt,
    ConstantBackoff,
    Deadline,
    DecorrelatedJitter,
    Done,
    EventKind,
    Execution,
    ExecutionPolicy,
    ExponentialBackoff,
    FailureReason,
    GiveUp,
    Grant,
    ManualClock,
    Outcome,
    OutcomeKind,
    Permit,
    Pipeline,
    RetryConfig,
    Step,
    TimeoutPhase,
    TraceEvent,
    Wait,
)

OK = Outcome.success()
FLAKY = Outcome.error("connection_refused", retryable=True)
FATAL = Outcome.error("http_404", retryable=False)
TIMEOUT = Outcome.timeout()
CANCEL = Outcome(OutcomeKind.CANCELLED, False, "cancelled")


def busy(retry_after: float | None = None) -> Outcome:
    return Outcome.rejected("http_503", retry_after=retry_after)


class FakeBreaker:
    """A BreakerLike that permits the first ``refuse_from`` calls and records what it saw."""

    name = "b"

    def __init__(self, refuse_from: int = 10**9, probe_in: float | None = None) -> None:
        self.refuse_from = refuse_from
        self.probe_in = probe_in
        self.acquired = 0
        self.refused = 0
        self.released: list[float] = []
        self.records: list[tuple[float, float, Outcome]] = []

    def try_acquire(self, now: float) -> Permit | None:
        if self.acquired >= self.refuse_from:
            self.refused += 1
            return None
        self.acquired += 1
        return Permit(0)

    def release(self, permit: Permit, now: float) -> None:
        self.released.append(now)

    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None:
        self.records.append((now, duration, outcome))

    def seconds_until_probe(self, now: float) -> float | None:
        return self.probe_in


class FakeBudget:
    """A BudgetLike with scripted answers; ``outcomes`` holds (outcome, ran on a grant)."""

    def __init__(self, admit: bool = True, retries: int = 10**9) -> None:
        self.admit = admit
        self.retries = retries
        self.requests: list[float] = []
        self.asked: list[Outcome] = []
        self.outcomes: list[tuple[Outcome, bool]] = []
        self.refunded: list[Grant] = []

    def on_request(self, now: float) -> bool:
        self.requests.append(now)
        return self.admit

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        self.asked.append(outcome)
        if self.retries <= 0:
            return None
        self.retries -= 1
        return Grant(1.0, now)

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        self.outcomes.append((outcome, grant is not None))

    def refund(self, grant: Grant, now: float) -> None:
        self.refunded.append(grant)

    def available(self, now: float) -> float:
        return float(self.retries)


def pipeline(**retry: object) -> Pipeline:
    kwargs: dict[str, object] = {"max_attempts": 3, "backoff": ExponentialBackoff(base=0.1, cap=10.0)}
    kwargs.update(retry)
    return Pipeline(RetryConfig(**kwargs), rng=random.Random(1))  # type: ignore[arg-type]


def drive(
    p: Pipeline,
    outcomes: Sequence[Outcome],
    *,
    clock: ManualClock | None = None,
    duration: float = 0.05,
    **begin: object,
) -> tuple[list[Step], Step, ManualClock]:
    """A minimal driver on a manual clock: each attempt takes ``duration``."""
    clock = clock or ManualClock()
    ex = p.begin(clock.now(), **begin)  # type: ignore[arg-type]
    script = list(outcomes)
    steps: list[Step] = []
    step = ex.next(clock.now())
    while True:
        steps.append(step)
        if isinstance(step, Attempt):
            clock.advance(min(duration, step.timeout))
            step = ex.next(clock.now(), script.pop(0))
        elif isinstance(step, Wait):
            clock.sleep(step.delay)
            step = ex.next(clock.now())
        else:
            break
    assert not script, "the execution stopped before the script ended"
    return steps, step, clock


def kinds(steps: Sequence[Step]) -> list[str]:
    return [type(s).__name__ for s in steps]


# ---------------------------------------------------------------------------
# success and every give-up reason


def test_success_first_time() -> None:
    steps, last, _clock = drive(pipeline(), [OK])
    assert kinds(steps) == ["Attempt", "Done"]
    assert isinstance(last, Done) and last.outcome is OK
    first = steps[0]
    assert isinstance(first, Attempt)
    assert (first.number, first.timeout, first.phase) == (1, math.inf, None)


def test_retries_then_success_with_backoff_delays() -> None:
    steps, _last, clock = drive(pipeline(max_attempts=4), [FLAKY, FLAKY, FLAKY, OK])
    assert kinds(steps) == ["Attempt", "Wait", "Attempt", "Wait", "Attempt", "Wait", "Attempt", "Done"]
    waits = [s for s in steps if isinstance(s, Wait)]
    assert [w.delay for w in waits] == pytest.approx([0.1, 0.2, 0.4])
    assert {w.cause for w in waits} == {"backoff"}
    assert [s.number for s in steps if isinstance(s, Attempt)] == [1, 2, 3, 4]
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4])
    assert clock.now() == pytest.approx(4 * 0.05 + 0.7)


def test_retries_exhausted() -> None:
    steps, last, _ = drive(pipeline(max_attempts=3), [FLAKY, FLAKY, busy()])
    assert isinstance(last, GiveUp)
    assert last.reason is FailureReason.RETRIES_EXHAUSTED
    assert last.last == busy()
    assert len([s for s in steps if isinstance(s, Attempt)]) == 3


def test_max_attempts_one_never_retries() -> None:
    _, last, _ = drive(pipeline(max_attempts=1), [FLAKY])
    assert isinstance(last, GiveUp) and last.reason is FailureReason.RETRIES_EXHAUSTED


def test_permanent_error_is_not_retried() -> None:
    steps, last, _ = drive(pipeline(), [FATAL])
    assert kinds(steps) == ["Attempt", "GiveUp"]
    assert isinstance(last, GiveUp) and last.reason is FailureReason.PERMANENT_ERROR and last.last is FATAL


def test_cancellation_is_never_retried_and_releases_the_breaker() -> None:
    breaker = FakeBreaker()
    p = Pipeline(RetryConfig(max_attempts=5), breaker=breaker)
    steps, last, _ = drive(p, [CANCEL])
    assert isinstance(last, GiveUp) and last.reason is FailureReason.CANCELLED
    assert kinds(steps) == ["Attempt", "GiveUp"]
    assert breaker.released == [0.05] and breaker.records == []


def test_deadline_exceeded_before_the_first_attempt() -> None:
    clock = ManualClock(10.0)
    steps, last, _ = drive(pipeline(), [], clock=clock, deadline=Deadline(10.0))
    assert kinds(steps) == ["GiveUp"]
    assert isinstance(last, GiveUp) and last.reason is FailureReason.DEADLINE_EXCEEDED and last.last is None


def test_deadline_exceeded_after_an_attempt_that_used_it_up() -> None:
    p = pipeline(max_attempts=5, attempt_timeout=None)
    steps, last, clock = drive(
        p, [Outcome.timeout(TimeoutPhase.DEADLINE)], duration=5.0, deadline=Deadline(1.0)
    )
    assert (
        isinstance(steps[0], Attempt) and steps[0].timeout == 1.0 and steps[0].phase is TimeoutPhase.DEADLINE
    )
    assert clock.now() == 1.0
    assert isinstance(last, GiveUp) and last.reason is FailureReason.DEADLINE_EXCEEDED


def test_delay_that_would_outlast_the_deadline_gives_up_at_once() -> None:
    p = pipeline(max_attempts=5, backoff=ConstantBackoff(base=1.0))
    steps, last, clock = drive(p, [FLAKY, FLAKY], duration=0.2, deadline=Deadline(2.0))
    # t=0.2 fail, wait 1.0; t=1.4 fail, 1.4+1.0 >= 2.0 → give up now, no sleep
    assert kinds(steps) == ["Attempt", "Wait", "Attempt", "GiveUp"]
    assert isinstance(last, GiveUp) and last.reason is FailureReason.DEADLINE_EXCEEDED
    assert clock.sleeps == [1.0]
    assert clock.now() == pytest.approx(1.4)


def test_delay_ending_exactly_at_the_deadline_gives_up() -> None:
    p = pipeline(max_attempts=5, backoff=ConstantBackoff(base=1.0))
    _, last, clock = drive(p, [FLAKY], duration=0.5, deadline=Deadline(1.5))
    assert isinstance(last, GiveUp) and last.reason is FailureReason.DEADLINE_EXCEEDED
    assert clock.sleeps == []


def test_breaker_open_refuses_locally() -> None:
    breaker = FakeBreaker(refuse_from=0)
    trace: list[TraceEvent] = []
    p = Pipeline(RetryConfig(max_attempts=3), breaker=breaker, name="edge")
    _steps, last, _ = drive(p, [], trace=trace)
    assert isinstance(last, GiveUp) and last.reason is FailureReason.BREAKER_OPEN and last.last is None
    assert [e.kind for e in trace] == [EventKind.REQUEST, EventKind.REJECTED, EventKind.GIVE_UP]
    assert trace[1].label == "breaker_open"


def test_breaker_opening_between_attempts() -> None:
    breaker = FakeBreaker(refuse_from=1)
    p = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.1)), breaker=breaker)
    steps, last, _ = drive(p, [FLAKY])
    assert kinds(steps) == ["Attempt", "Wait", "GiveUp"]
    assert isinstance(last, GiveUp) and last.reason is FailureReason.BREAKER_OPEN and last.last is FLAKY
    assert len(breaker.records) == 1 and breaker.records[0][1] == pytest.approx(0.05)


def test_budget_refuses_the_request() -> None:
    budget = FakeBudget(admit=False)
    steps, last, _ = drive(Pipeline(RetryConfig(), budget=budget), [])
    assert kinds(steps) == ["GiveUp"]
    assert isinstance(last, GiveUp) and last.reason is FailureReason.BUDGET_EXHAUSTED
    assert budget.outcomes == []


def test_budget_refuses_the_retry() -> None:
    budget = FakeBudget(retries=1)
    p = Pipeline(RetryConfig(max_attempts=5, backoff=ConstantBackoff(base=0.1)), budget=budget)
    _steps, last, _ = drive(p, [FLAKY, TIMEOUT])
    assert isinstance(last, GiveUp) and last.reason is FailureReason.BUDGET_EXHAUSTED
    assert budget.asked == [FLAKY, TIMEOUT]
    assert budget.outcomes == [(FLAKY, False), (TIMEOUT, True)]


def test_budget_is_not_asked_for_permanent_errors_or_the_last_attempt() -> None:
    budget = FakeBudget()
    drive(Pipeline(RetryConfig(max_attempts=2), budget=budget), [FATAL])
    drive(Pipeline(RetryConfig(max_attempts=1), budget=budget), [FLAKY])
    assert budget.asked == []


# ---------------------------------------------------------------------------
# idempotency


def test_timeout_on_non_idempotent_call_is_not_retried() -> None:
    _, last, _ = drive(pipeline(), [TIMEOUT], idempotent=False)
    assert isinstance(last, GiveUp) and last.reason is FailureReason.NOT_IDEMPOTENT and last.last is TIMEOUT


def test_timeout_on_non_idempotent_call_with_a_key_is_retried() -> None:
    steps, _last, _ = drive(pipeline(), [TIMEOUT, OK], idempotent=False, idempotency_key="order-42")
    assert kinds(steps) == ["Attempt", "Wait", "Attempt", "Done"]


def test_errors_that_never_reached_the_server_are_retried_for_non_idempotent_calls() -> None:
    _, last, _ = drive(pipeline(), [FLAKY, busy(), OK], idempotent=False)
    assert isinstance(last, Done)


@pytest.mark.parametrize(
    "evidence", ["connection_error", "http_502", "http_504"], ids=["reset", "bad-gateway", "gateway-timeout"]
)
def test_errors_after_which_the_server_may_have_run_the_call_need_a_key(evidence: str) -> None:
    maybe_ran = Outcome.error(evidence, retryable=True)
    _, last, _ = drive(pipeline(), [maybe_ran], idempotent=False)
    assert isinstance(last, GiveUp) and last.reason is FailureReason.NOT_IDEMPOTENT
    _, last, _ = drive(pipeline(), [maybe_ran, OK], idempotent=False, idempotency_key="k-1")
    assert isinstance(last, Done)
    _, last, _ = drive(pipeline(), [maybe_ran, OK], idempotent=True)
    assert isinstance(last, Done)


# ---------------------------------------------------------------------------
# Retry-After


def test_retry_after_replaces_the_backoff() -> None:
    steps, _last, clock = drive(pipeline(), [busy(2.5), OK])
    wait = steps[1]
    assert isinstance(wait, Wait) and (wait.delay, wait.cause) == (2.5, "retry_after")
    assert clock.sleeps == [2.5]


def test_retry_after_zero_is_honoured() -> None:
    steps, _, _ = drive(pipeline(), [busy(0.0), OK])
    assert isinstance(steps[1], Wait) and (steps[1].delay, steps[1].cause) == (0.0, "retry_after")


def test_retry_after_is_clamped_to_the_maximum() -> None:
    trace: list[TraceEvent] = []
    steps, _, _ = drive(pipeline(max_retry_after=5.0), [busy(3600.0), OK], trace=trace)
    wait = steps[1]
    assert isinstance(wait, Wait) and (wait.delay, wait.cause) == (5.0, "retry_after_clamped")
    assert [e for e in trace if e.kind is EventKind.WAIT] == [
        TraceEvent(0.05, EventKind.WAIT, 1, "retry_after_clamped", 5.0)
    ]


def test_retry_after_at_the_maximum_is_not_clamped() -> None:
    steps, _, _ = drive(pipeline(max_retry_after=5.0), [busy(5.0), OK])
    assert isinstance(steps[1], Wait) and steps[1].cause == "retry_after"


def test_retry_after_ignored_when_configured() -> None:
    steps, _, _ = drive(pipeline(honor_retry_after=False), [busy(30.0), OK])
    assert isinstance(steps[1], Wait) and (steps[1].delay, steps[1].cause) == (pytest.approx(0.1), "backoff")


def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    _, last, clock = drive(pipeline(), [busy(5.0)], deadline=Deadline(3.0))
    assert isinstance(last, GiveUp) and last.reason is FailureReason.DEADLINE_EXCEEDED
    assert clock.sleeps == []


def test_clamped_retry_after_still_checked_against_the_deadline() -> None:
    _, last, _ = drive(pipeline(max_retry_after=2.0), [busy(100.0), OK], deadline=Deadline(3.0))
    assert isinstance(last, Done)


def test_decorrelated_jitter_sees_the_previous_delay() -> None:
    class Half:
        def random(self) -> float:
            return 0.5

    backoff = ExponentialBackoff(base=0.1, cap=100.0, jitter=DecorrelatedJitter())
    p = Pipeline(RetryConfig(max_attempts=4, backoff=backoff), rng=Half())
    steps, _, _ = drive(p, [FLAKY, busy(2.0), FLAKY, OK])
    delays = [s.delay for s in steps if isinstance(s, Wait)]
    # first: U(0.1, 0.3) at 0.5 = 0.2; second: Retry-After 2.0; third: U(0.1, 6.0) at 0.5 = 3.05
    assert delays == pytest.approx([0.2, 2.0, 3.05])


# ---------------------------------------------------------------------------
# attempt timeouts


def test_attempt_timeout_bounds_each_attempt() -> None:
    steps, _, _ = drive(pipeline(attempt_timeout=0.5), [FLAKY, OK])
    attempts = [s for s in steps if isinstance(s, Attempt)]
    assert [(a.timeout, a.phase) for a in attempts] == [(0.5, TimeoutPhase.ATTEMPT)] * 2


def test_attempt_timeout_is_cut_to_the_deadline_left() -> None:
    p = pipeline(attempt_timeout=1.0, max_attempts=5, backoff=ConstantBackoff(base=0.2))
    steps, _, _ = drive(p, [TIMEOUT, OK], duration=1.0, deadline=Deadline(2.7))
    attempts = [s for s in steps if isinstance(s, Attempt)]
    assert next((a.timeout, a.phase) for a in attempts) == (1.0, TimeoutPhase.ATTEMPT)
    # second attempt leaves at 1.2 with 1.5 left: still the attempt timeout
    assert attempts[1].timeout == 1.0 and attempts[1].phase is TimeoutPhase.ATTEMPT
    steps, _, _ = drive(p, [TIMEOUT, TIMEOUT], duration=1.0, deadline=Deadline(2.0))
    attempts = [s for s in steps if isinstance(s, Attempt)]
    # second attempt leaves at 1.2 with 0.8 left: the deadline bounds it
    assert attempts[1].timeout == pytest.approx(0.8) and attempts[1].phase is TimeoutPhase.DEADLINE


def test_attempt_timeout_equal_to_deadline_left_is_the_deadline() -> None:
    steps, _, _ = drive(pipeline(attempt_timeout=1.0), [OK], deadline=Deadline(1.0))
    assert isinstance(steps[0], Attempt) and (steps[0].timeout, steps[0].phase) == (
        1.0,
        TimeoutPhase.DEADLINE,
    )


def test_configured_timeout_sets_the_deadline() -> None:
    p = pipeline(timeout=2.0)
    steps, _, _ = drive(p, [OK], clock=ManualClock(10.0))
    assert isinstance(steps[0], Attempt) and (steps[0].timeout, steps[0].phase) == (
        2.0,
        TimeoutPhase.DEADLINE,
    )


def test_a_deadline_that_never_ends_leaves_attempts_unbounded() -> None:
    steps, _, _ = drive(pipeline(), [OK], deadline=Deadline.never())
    assert isinstance(steps[0], Attempt) and (steps[0].timeout, steps[0].phase) == (math.inf, None)
    steps, _, _ = drive(pipeline(attempt_timeout=0.3), [OK], deadline=Deadline.never())
    assert isinstance(steps[0], Attempt) and (steps[0].timeout, steps[0].phase) == (0.3, TimeoutPhase.ATTEMPT)


# ---------------------------------------------------------------------------
# effective deadline


def test_the_earliest_deadline_wins() -> None:
    p = pipeline(timeout=5.0)
    assert p.begin(0.0, Deadline(10.0)).deadline == Deadline(5.0)
    assert p.begin(0.0, Deadline(1.0)).deadline == Deadline(1.0)
    assert p.begin(0.0).deadline == Deadline(5.0)
    assert pipeline().begin(0.0).deadline is None


# ---------------------------------------------------------------------------
# protocol misuse


def test_outcome_without_an_attempt_raises() -> None:
    ex = pipeline().begin(0.0)
    with pytest.raises(RuntimeError, match="no attempt was made"):
        ex.next(0.0, OK)


def test_missing_outcome_raises() -> None:
    ex = pipeline().begin(0.0)
    ex.next(0.0)
    with pytest.raises(RuntimeError, match="outcome is required"):
        ex.next(0.1)


def test_outcome_after_the_end_raises_and_the_result_is_stable() -> None:
    ex = pipeline().begin(0.0)
    ex.next(0.0)
    done = ex.next(0.1, OK)
    assert ex.finished
    assert ex.next(0.2) is done
    with pytest.raises(RuntimeError, match="has finished"):
        ex.next(0.2, OK)


# ---------------------------------------------------------------------------
# traces and listeners


def test_trace_of_a_scripted_request() -> None:
    breaker = FakeBreaker()
    budget = FakeBudget()
    seen: list[tuple[str, TraceEvent]] = []
    p = Pipeline(
        RetryConfig(max_attempts=4, attempt_timeout=1.0, timeout=100.0, backoff=ConstantBackoff(base=0.5)),
        breaker=breaker,
        budget=budget,
        listeners=[lambda source, event: seen.append((source, event))],
        name="api",
    )
    trace: list[TraceEvent] = []
    _, last, clock = drive(p, [TIMEOUT, busy(70.0), OK], duration=0.25, trace=trace)
    assert isinstance(last, Done)
    assert trace == [
        TraceEvent(0.0, EventKind.REQUEST, 0, "", 100.0),
        TraceEvent(0.0, EventKind.ATTEMPT, 1, "attempt", 1.0),
        TraceEvent(0.25, EventKind.OUTCOME, 1, "timeout", 0.25, "timeout_attempt"),
        TraceEvent(0.25, EventKind.WAIT, 1, "backoff", 0.5),
        TraceEvent(0.75, EventKind.ATTEMPT, 2, "attempt", 1.0),
        TraceEvent(1.0, EventKind.OUTCOME, 2, "rejected", 0.25, "http_503"),
        TraceEvent(1.0, EventKind.WAIT, 2, "retry_after_clamped", 60.0),
        TraceEvent(61.0, EventKind.ATTEMPT, 3, "attempt", 1.0),
        TraceEvent(61.25, EventKind.OUTCOME, 3, "success", 0.25, "ok"),
        TraceEvent(61.25, EventKind.SUCCESS, 3, "", 61.25),
    ]
    assert seen == [("api", e) for e in trace]
    assert clock.sleeps == [0.5, 60.0]


def test_trace_with_deadline_give_up() -> None:
    p = Pipeline(RetryConfig(max_attempts=4, timeout=10.0, backoff=ConstantBackoff(base=0.5)), name="api")
    trace: list[TraceEvent] = []
    _, last, _ = drive(p, [FLAKY, busy(30.0)], duration=0.25, trace=trace)
    assert isinstance(last, GiveUp) and last.reason is FailureReason.DEADLINE_EXCEEDED
    assert trace == [
        TraceEvent(0.0, EventKind.REQUEST, 0, "", 10.0),
        TraceEvent(0.0, EventKind.ATTEMPT, 1, "deadline", 10.0),
        TraceEvent(0.25, EventKind.OUTCOME, 1, "error", 0.25, "connection_refused"),
        TraceEvent(0.25, EventKind.WAIT, 1, "backoff", 0.5),
        TraceEvent(0.75, EventKind.ATTEMPT, 2, "deadline", 9.25),
        TraceEvent(1.0, EventKind.OUTCOME, 2, "rejected", 0.25, "http_503"),
        TraceEvent(1.0, EventKind.GIVE_UP, 2, "deadline_exceeded", 1.0, "http_503"),
    ]


def test_no_trace_no_listeners_no_events() -> None:
    p = pipeline()
    ex = p.begin(0.0)
    assert ex.trace is None
    drive(p, [FLAKY, OK])  # runs without a trace


def test_add_listener() -> None:
    p = pipeline()
    seen: list[str] = []
    p.add_listener(lambda source, event: seen.append(f"{source}:{event.kind.value}"))
    drive(p, [OK])
    assert seen == ["default:request", "default:attempt", "default:outcome", "default:success"]


def test_breaker_and_budget_see_every_outcome() -> None:
    breaker = FakeBreaker()
    budget = FakeBudget()
    p = Pipeline(
        RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.1)), breaker=breaker, budget=budget
    )
    drive(p, [FLAKY, TIMEOUT, OK], duration=0.2)
    assert [(round(d, 9), o) for _, d, o in breaker.records] == [(0.2, FLAKY), (0.2, TIMEOUT), (0.2, OK)]
    assert budget.outcomes == [(FLAKY, False), (TIMEOUT, True), (OK, True)]
    assert budget.requests == [0.0]
    assert breaker.acquired == 3


# ---------------------------------------------------------------------------
# leases, hints and isolation on the protocol


def test_a_breaker_refusal_carries_its_probe_hint() -> None:
    breaker = FakeBreaker(refuse_from=1, probe_in=2.5)
    p = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.1)), breaker=breaker)
    _, last, _ = drive(p, [FLAKY])
    assert isinstance(last, GiveUp) and last.reason is FailureReason.BREAKER_OPEN
    assert (last.retry_after, last.last) == (2.5, FLAKY)
    _, other, _ = drive(pipeline(max_attempts=1), [FLAKY])
    assert isinstance(other, GiveUp) and other.retry_after is None


def test_a_refused_retry_refunds_its_grant_and_a_run_one_settles_it_with_the_outcome() -> None:
    budget = FakeBudget()
    breaker = FakeBreaker(refuse_from=2)
    p = Pipeline(
        RetryConfig(max_attempts=5, backoff=ConstantBackoff(base=0.1)), breaker=breaker, budget=budget
    )
    _, last, _ = drive(p, [FLAKY, TIMEOUT])
    assert isinstance(last, GiveUp) and last.reason is FailureReason.BREAKER_OPEN
    # attempt 1 (no grant), retry 1 ran on a grant, retry 2 granted then refused by the breaker: refunded
    assert budget.outcomes == [(FLAKY, False), (TIMEOUT, True)]
    assert len(budget.refunded) == 1


class RaisingBreaker(FakeBreaker):
    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None:
        raise RuntimeError("breaker bug")


def test_an_exception_while_settling_still_settles_the_grant_and_cancel_finishes_the_request() -> None:
    budget = FakeBudget()
    p = Pipeline(
        RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.1)),
        breaker=RaisingBreaker(),
        budget=budget,
    )
    ex = p.begin(0.0)
    ex.next(0.0)
    with pytest.raises(RuntimeError, match="breaker bug"):
        ex.next(0.1, FLAKY)
    assert budget.outcomes == [(FLAKY, False)]
    with pytest.raises(RuntimeError, match="a previous step raised"):
        ex.next(0.2)
    step = ex.cancel(0.2)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.CANCELLED
    assert ex.cancel(0.3) is step and budget.outcomes == [(FLAKY, False)] and budget.refunded == []


def test_listener_errors_are_counted_per_pipeline_and_change_nothing() -> None:
    from resilience.hooks import listener_errors

    def broken(source: str, event: TraceEvent) -> None:
        raise KeyError(event.kind.value)

    before = listener_errors().get("counted-edge", 0)
    p = Pipeline(
        RetryConfig(max_attempts=2, backoff=ConstantBackoff(base=0.1)),
        listeners=[broken],
        name="counted-edge",
    )
    trace: list[TraceEvent] = []
    _, last, _ = drive(p, [FLAKY, OK], trace=trace)
    assert isinstance(last, Done)
    assert listener_errors()["counted-edge"] - before == len(trace) == 7


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("max_attempts", 0, "must be >= 1"),
        ("attempt_timeout", 0.0, "must be > 0"),
        ("max_retry_after", math.nan, "must be >= 0 and finite"),
    ],
)
def test_an_execution_policy_refuses_bad_values(field: str, value: float, rule: str) -> None:
    good = pipeline().policy
    assert (good.max_attempts, good.attempt_timeout, good.max_retry_after) == (3, math.inf, 60.0)
    values = {"max_attempts": 3, "attempt_timeout": math.inf, "max_retry_after": 60.0, field: value}
    with pytest.raises(ValueError, match=rf"ExecutionPolicy.{field}={value!r}: {rule}"):
        ExecutionPolicy(backoff=good.backoff, honor_retry_after=True, **values)  # type: ignore[arg-type]


def test_an_execution_runs_from_a_policy_without_a_pipeline() -> None:
    policy = ExecutionPolicy(3, 0.5, ConstantBackoff(base=0.2), True, 60.0, name="direct")
    seen: list[tuple[str, str]] = []
    listeners = (lambda s, e: seen.append((s, e.kind.value)),)
    ex = Execution(policy, 0.0, None, random.Random(1), listeners=listeners)
    first = ex.next(0.0)
    assert isinstance(first, Attempt) and (first.timeout, first.phase) == (0.5, TimeoutPhase.ATTEMPT)
    wait = ex.next(0.1, FLAKY)
    assert isinstance(wait, Wait) and wait.delay == pytest.approx(0.2)
    assert seen[0] == ("direct", "request") and len(seen) == 4
