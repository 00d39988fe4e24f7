"""SyncDriver on a manual clock: retry counts, waits, give-up reasons, Retry-After, deadlines."""

from __future__ import annotations

import email.utils
import random
import threading

import pytest
from scripted import Response, fail, hang, http, ok, play, run_sync

from resilience.core import (
    ConstantBackoff,
    Deadline,
    EventKind,
    ExponentialBackoff,
    FailureReason,
    ManualClock,
    NoJitter,
    OutcomeKind,
    Pipeline,
    RetryConfig,
    TraceEvent,
    deadline_scope,
)
from resilience.drivers import (
    DeadlineExceededError,
    RequestFailed,
    SyncDriver,
    http_result_classifier,
    resilient,
)

E = EventKind


def pipeline(**retry: object) -> Pipeline:
    retry.setdefault("backoff", ConstantBackoff(base=0.5))
    return Pipeline(RetryConfig(**retry), rng=random.Random(1))  # type: ignore[arg-type]


class Flaky:
    """Raises the given exceptions in turn, then returns ``value``."""

    def __init__(self, clock: ManualClock, *errors: BaseException, took: float = 0.0, value: str = "ok"):
        self.clock = clock
        self.errors = list(errors)
        self.took = took
        self.value = value
        self.calls = 0
        self.timeouts: list[float | None] = []

    def __call__(self, timeout: float | None = None) -> str:
        self.calls += 1
        self.timeouts.append(timeout)
        self.clock.advance(self.took)
        if self.errors:
            raise self.errors.pop(0)
        return self.value


def driver(
    p: Pipeline, clock: ManualClock, trace: list[TraceEvent] | None = None, **kw: object
) -> SyncDriver:
    return SyncDriver(p, clock=clock, sleep=clock.sleep, wall=clock, trace=trace, **kw)  # type: ignore[arg-type]


def test_success_first_time_makes_one_attempt_and_no_wait() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    fn = Flaky(clock, took=0.25)
    assert driver(pipeline(), clock, trace).call(fn) == "ok"
    assert fn.calls == 1 and clock.sleeps == []
    assert [e.kind for e in trace] == [E.REQUEST, E.ATTEMPT, E.OUTCOME, E.SUCCESS]
    assert trace[-1] == TraceEvent(0.25, E.SUCCESS, 1, "", 0.25)


def test_transient_errors_are_retried_with_the_backoff_waits() -> None:
    clock = ManualClock()
    p = pipeline(max_attempts=4, backoff=ExponentialBackoff(base=0.1, multiplier=2.0, jitter=NoJitter()))
    fn = Flaky(clock, ConnectionRefusedError(), ConnectionResetError(), TimeoutError())
    assert driver(p, clock).call(fn) == "ok"
    assert fn.calls == 4
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_retries_exhausted_raises_with_the_last_exception_as_cause() -> None:
    clock = ManualClock()
    last = ConnectionResetError("third")
    fn = Flaky(clock, ConnectionRefusedError(), ConnectionRefusedError(), last)
    with pytest.raises(RequestFailed) as info:
        driver(pipeline(max_attempts=3), clock).call(fn)
    err = info.value
    assert type(err) is RequestFailed
    assert err.reason is FailureReason.RETRIES_EXHAUSTED and err.attempts == 3
    assert err.__cause__ is last and err.last_outcome is not None
    assert err.last_outcome.evidence == "connection_error"
    assert clock.sleeps == [0.5, 0.5]
    assert str(err) == "retries_exhausted after 3 attempt(s); last: connection_error"


def test_permanent_error_is_not_retried() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ValueError("bad input"))
    with pytest.raises(RequestFailed) as info:
        driver(pipeline(max_attempts=5), clock).call(fn)
    assert info.value.reason is FailureReason.PERMANENT_ERROR
    assert fn.calls == 1 and clock.sleeps == []
    assert isinstance(info.value.__cause__, ValueError)


def test_deadline_stops_the_attempts() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    fn = Flaky(clock, *[ConnectionRefusedError() for _ in range(10)], took=0.4)
    p = pipeline(max_attempts=10, timeout=1.0, backoff=ConstantBackoff(base=0.1))
    with pytest.raises(DeadlineExceededError) as info:
        driver(p, clock, trace).call(fn)
    assert info.value.reason is FailureReason.DEADLINE_EXCEEDED
    # 0-0.4 fail, wait 0.1, 0.5-0.9 fail, a third wait would end at 1.0 = the deadline: give up at 0.9
    assert fn.calls == 2 and clock.sleeps == [0.1]
    assert clock.now() == pytest.approx(0.9)
    assert trace[-1].kind is E.GIVE_UP and trace[-1].label == "deadline_exceeded"


def test_delay_that_would_outlast_the_deadline_gives_up_at_once_without_sleeping() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError(), took=0.1)
    p = pipeline(max_attempts=5, timeout=1.0, backoff=ConstantBackoff(base=2.0))
    with pytest.raises(DeadlineExceededError):
        driver(p, clock).call(fn)
    assert fn.calls == 1 and clock.sleeps == [] and clock.now() == pytest.approx(0.1)


def test_attempt_running_past_the_deadline_gives_up_with_deadline_exceeded() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError(), took=1.5)  # ignores the time it was handed
    with pytest.raises(DeadlineExceededError):
        driver(pipeline(max_attempts=5, timeout=1.0), clock, pass_timeout="timeout").call(fn)
    assert fn.calls == 1 and fn.timeouts == [1.0]


def test_pass_timeout_hands_the_remaining_time_and_names_the_bound_that_fired() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    fn = Flaky(clock, TimeoutError(), TimeoutError(), took=0.3)
    p = pipeline(max_attempts=3, attempt_timeout=0.3, timeout=0.9, backoff=ConstantBackoff(base=0.1))
    assert driver(p, clock, trace, pass_timeout="timeout").call(fn) == "ok"
    # attempt 1 at 0: 0.3 (attempt bound); attempt 2 at 0.4: 0.3; attempt 3 at 0.8: 0.1 left (deadline bound)
    assert fn.timeouts == pytest.approx([0.3, 0.3, 0.1])
    attempts = [(e.label, e.value) for e in trace if e.kind is E.ATTEMPT]
    assert [a[0] for a in attempts] == ["attempt", "attempt", "deadline"]
    outcomes = [(e.label, e.evidence) for e in trace if e.kind is E.OUTCOME]
    assert outcomes[:2] == [("timeout", "timeout_attempt"), ("timeout", "timeout_attempt")]


def test_without_pass_timeout_nothing_is_added_to_the_call() -> None:
    clock = ManualClock()
    seen: list[dict[str, object]] = []
    p = pipeline(attempt_timeout=0.3)
    assert driver(p, clock).call(lambda **kw: seen.append(kw) or "ok") == "ok"
    assert seen == [{}]


def test_unbounded_attempt_hands_none() -> None:
    clock = ManualClock()
    fn = Flaky(clock)
    driver(pipeline(), clock, pass_timeout="timeout").call(fn)
    assert fn.timeouts == [None]


def test_timeout_on_a_non_idempotent_call_without_key_is_not_retried() -> None:
    clock = ManualClock()
    fn = Flaky(clock, TimeoutError())
    with pytest.raises(RequestFailed) as info:
        driver(pipeline(max_attempts=3), clock, idempotent=False).call(fn)
    assert info.value.reason is FailureReason.NOT_IDEMPOTENT and fn.calls == 1


def test_timeout_on_a_non_idempotent_call_with_a_key_is_retried() -> None:
    clock = ManualClock()
    fn = Flaky(clock, TimeoutError())
    d = driver(pipeline(max_attempts=3), clock, idempotent=False, idempotency_key="order-17")
    assert d.call(fn) == "ok" and fn.calls == 2


def test_connection_refused_on_a_non_idempotent_call_is_retried() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError())
    assert driver(pipeline(max_attempts=3), clock, idempotent=False).call(fn) == "ok"
    assert fn.calls == 2


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_cancellation_propagates_unchanged_and_is_never_retried(exc_type: type[BaseException]) -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    raised = exc_type()
    fn = Flaky(clock, raised)
    with pytest.raises(exc_type) as info:
        driver(pipeline(max_attempts=5), clock, trace).call(fn)
    assert info.value is raised and fn.calls == 1 and clock.sleeps == []
    assert [(e.kind, e.label) for e in trace[-2:]] == [(E.OUTCOME, "cancelled"), (E.GIVE_UP, "cancelled")]


def test_cancellation_during_the_wait_ends_the_request() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []

    def interrupted_sleep(seconds: float) -> None:
        clock.advance(seconds / 2)
        raise KeyboardInterrupt

    fn = Flaky(clock, ConnectionRefusedError())
    d = SyncDriver(pipeline(max_attempts=5), clock=clock, sleep=interrupted_sleep, trace=trace)
    with pytest.raises(KeyboardInterrupt):
        d.call(fn)
    assert fn.calls == 1
    assert trace[-1] == TraceEvent(0.25, E.GIVE_UP, 1, "cancelled", 0.25, "connection_refused")


def test_retry_after_replaces_the_backoff() -> None:
    run = play(run_sync, lambda: pipeline(max_attempts=3), [http(503, 0.1, retry_after="2"), ok(0.1)])
    assert run.value == Response(200) and run.calls == 2
    assert run.waits == [2.0]
    wait = next(e for e in run.trace if e.kind is E.WAIT)
    assert (wait.label, wait.value) == ("retry_after", 2.0)


def test_retry_after_longer_than_the_maximum_is_clamped_and_recorded() -> None:
    run = play(
        run_sync,
        lambda: pipeline(max_attempts=3, max_retry_after=1.5),
        [http(429, retry_after="30"), ok()],
    )
    assert run.value == Response(200) and run.waits == [1.5]
    wait = next(e for e in run.trace if e.kind is E.WAIT)
    assert (wait.label, wait.value) == ("retry_after_clamped", 1.5)


def test_retry_after_as_an_http_date_is_read_against_the_wall_clock() -> None:
    clock = ManualClock(epoch=1_700_000_000.0)
    date = email.utils.formatdate(clock.wall() + 5.0, usegmt=True)
    answers = [Response(503, {"Retry-After": date}), Response(200)]
    p = pipeline(max_attempts=3)
    d = driver(p, clock, classify_result=http_result_classifier(p.classifier, wall=clock))
    assert d.call(answers.pop, 0) == Response(200)
    assert clock.sleeps == [5.0]


def test_failed_results_that_exhaust_the_retries_are_kept_on_the_error() -> None:
    run = play(run_sync, lambda: pipeline(max_attempts=2), [http(500), http(502)])
    assert isinstance(run.error, RequestFailed)
    assert run.error.reason is FailureReason.RETRIES_EXHAUSTED
    assert run.error.last_result == Response(502) and run.error.__cause__ is None
    assert run.error.last_outcome is not None and run.error.last_outcome.evidence == "http_502"


def test_permanent_http_status_is_not_retried() -> None:
    run = play(run_sync, lambda: pipeline(max_attempts=5), [http(404)])
    assert isinstance(run.error, RequestFailed) and run.error.reason is FailureReason.PERMANENT_ERROR
    assert run.calls == 1


def test_one_deadline_at_the_entry_is_shared_by_every_call_under_it() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    p = pipeline(max_attempts=10, backoff=ConstantBackoff(base=0.1))
    d = driver(p, clock, trace)
    with deadline_scope(Deadline.after(clock.now(), 1.0)):
        assert d.call(Flaky(clock, took=0.4)) == "ok"  # the database call uses 0.4 s
        rpc = Flaky(clock, *[ConnectionRefusedError() for _ in range(10)], took=0.2)
        with pytest.raises(DeadlineExceededError):
            d.call(rpc)  # the RPC gets the 0.6 s left, not a fresh second
    requests = [e for e in trace if e.kind is E.REQUEST]
    assert [r.value for r in requests] == pytest.approx([1.0, 0.6])
    # 0.4-0.6 fail, wait, 0.7-0.9 fail, wait would reach 1.0: give up at 0.9
    assert rpc.calls == 2 and clock.now() == pytest.approx(0.9)


def test_the_nearer_of_a_driver_deadline_and_the_scope_wins() -> None:
    clock = ManualClock()
    fn = Flaky(clock)
    d = driver(pipeline(), clock, pass_timeout="timeout", deadline=Deadline.after(0.0, 5.0))
    with deadline_scope(Deadline.after(0.0, 2.0)):
        d.call(fn)
    assert fn.timeouts == [2.0]


def test_wrap_and_resilient_decorate_functions() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError())

    @driver(pipeline(), clock).wrap
    def fetch(x: int, *, timeout: float | None = None) -> str:
        return f"{fn()}-{x}"

    assert fetch(3) == "ok-3" and fetch.__name__ == "fetch" and fn.calls == 2

    @resilient(pipeline(max_attempts=2), clock=clock, sleep=clock.sleep)
    def flaky_add(a: int, b: int) -> int:
        if fn.calls < 3:
            fn.calls += 1
            raise ConnectionResetError
        return a + b

    assert flaky_add(1, 2) == 3


def test_options_returns_a_changed_copy() -> None:
    clock = ManualClock()
    base = driver(pipeline(), clock)
    keyed = base.options(idempotent=False, idempotency_key="k")
    assert (keyed.idempotent, keyed.idempotency_key) == (False, "k")
    assert (base.idempotent, base.idempotency_key) == (True, None)
    with pytest.raises(TypeError, match=r"SyncDriver.options: unknown option\(s\) \['retries'\]"):
        base.options(retries=3)


def test_one_driver_serves_many_threads_with_independent_requests() -> None:
    """Per-call state lives in the execution: concurrent calls never see each other's attempts."""
    clock = ManualClock()
    p = pipeline(max_attempts=3, backoff=ConstantBackoff(base=0.0))
    d = SyncDriver(p, clock=clock, sleep=lambda s: None)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(300):
            calls = [0]

            def once_flaky(tag: int = k * 1000 + i, calls: list[int] = calls) -> int:
                calls[0] += 1
                if calls[0] == 1:
                    raise ConnectionResetError
                return tag

            value = d.call(once_flaky)
            with lock:
                results.append((value - (k * 1000 + i), calls[0]))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2400 and set(results) == {(0, 2)}


def test_scripted_hang_times_out_at_the_attempt_bound() -> None:
    run = play(run_sync, lambda: pipeline(max_attempts=2, attempt_timeout=0.3), [hang(), fail("refused")])
    assert isinstance(run.error, RequestFailed) and run.calls == 2
    outcome = next(e for e in run.trace if e.kind is E.OUTCOME)
    assert (outcome.label, outcome.value, outcome.evidence) == (
        OutcomeKind.TIMEOUT.value,
        pytest.approx(0.3),
        "timeout_attempt",
    )


def test_a_refused_retry_raises_budget_exhausted() -> None:
    from resilience.budget import TokenBucketBudget, TokenBucketBudgetConfig
    from resilience.drivers import BudgetExhaustedError

    clock = ManualClock()
    budget = TokenBucketBudget(TokenBucketBudgetConfig(capacity=5, retry_cost=5, timeout_cost=5))
    p = Pipeline(RetryConfig(max_attempts=5, backoff=ConstantBackoff(base=0.1)), budget=budget)
    fn = Flaky(clock, *[ConnectionRefusedError() for _ in range(5)])
    with pytest.raises(BudgetExhaustedError) as info:
        driver(p, clock).call(fn)
    assert info.value.reason is FailureReason.BUDGET_EXHAUSTED
    assert fn.calls == 2 and clock.sleeps == [0.1]  # the one retry the 5 tokens paid for
