"""AsyncDriver on a manual clock: retries, waits, give-up reasons, cancellation, no leaked tasks."""

from __future__ import annotations

import asyncio
import random

import pytest
from scripted import Response, asyncio_test, fail, hang, http, ok, play, run_async

from resilience.core import (
    ConstantBackoff,
    Deadline,
    EventKind,
    FailureReason,
    ManualClock,
    Pipeline,
    RetryConfig,
    TraceEvent,
    deadline_scope,
)
from resilience.drivers import AsyncDriver, DeadlineExceededError, RequestFailed, resilient

E = EventKind


def pipeline(**retry: object) -> Pipeline:
    retry.setdefault("backoff", ConstantBackoff(base=0.5))
    return Pipeline(RetryConfig(**retry), rng=random.Random(1))  # type: ignore[arg-type]


def driver(
    p: Pipeline, clock: ManualClock, trace: list[TraceEvent] | None = None, **kw: object
) -> AsyncDriver:
    return AsyncDriver(p, clock=clock, sleep=clock.async_sleep, wall=clock, trace=trace, **kw)  # type: ignore[arg-type]


class Flaky:
    def __init__(self, clock: ManualClock, *errors: BaseException, took: float = 0.0) -> None:
        self.clock = clock
        self.errors = list(errors)
        self.took = took
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        self.clock.advance(self.took)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def others() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


@asyncio_test
async def test_retries_until_success_and_leaks_no_task() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError(), ConnectionResetError())
    assert await driver(pipeline(max_attempts=3), clock).call(fn) == "ok"
    assert fn.calls == 3 and clock.sleeps == [0.5, 0.5]
    assert others() == set()


@pytest.mark.parametrize(
    ("errors", "reason", "calls"),
    [
        ([ConnectionRefusedError()] * 3, FailureReason.RETRIES_EXHAUSTED, 3),
        ([ValueError()], FailureReason.PERMANENT_ERROR, 1),
    ],
)
@asyncio_test
async def test_give_up_reasons(errors: list[BaseException], reason: FailureReason, calls: int) -> None:
    clock = ManualClock()
    fn = Flaky(clock, *errors)
    with pytest.raises(RequestFailed) as info:
        await driver(pipeline(max_attempts=3), clock).call(fn)
    assert info.value.reason is reason and fn.calls == calls
    assert info.value.__cause__ is not None and type(info.value.__cause__) is type(errors[0])
    assert others() == set()


@asyncio_test
async def test_deadline_gives_up_without_sleeping_in_vain() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError(), took=0.1)
    p = pipeline(max_attempts=5, timeout=1.0, backoff=ConstantBackoff(base=2.0))
    with pytest.raises(DeadlineExceededError):
        await driver(p, clock).call(fn)
    assert fn.calls == 1 and clock.sleeps == [] and clock.now() == pytest.approx(0.1)


@asyncio_test
async def test_non_idempotent_timeout_is_retried_only_with_a_key() -> None:
    clock = ManualClock()
    fn = Flaky(clock, TimeoutError())
    with pytest.raises(RequestFailed) as info:
        await driver(pipeline(max_attempts=3), clock, idempotent=False).call(fn)
    assert info.value.reason is FailureReason.NOT_IDEMPOTENT and fn.calls == 1
    fn = Flaky(clock, TimeoutError())
    keyed = driver(pipeline(max_attempts=3), clock, idempotent=False, idempotency_key="pay-9")
    assert await keyed.call(fn) == "ok" and fn.calls == 2


@asyncio_test
async def test_cancelled_error_raised_by_the_attempt_is_never_retried() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    fn = Flaky(clock, asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await driver(pipeline(max_attempts=5), clock, trace).call(fn)
    assert fn.calls == 1
    assert [(e.kind, e.label) for e in trace[-2:]] == [(E.OUTCOME, "cancelled"), (E.GIVE_UP, "cancelled")]


@asyncio_test
async def test_cancel_during_the_wait_ends_the_request_and_leaks_nothing() -> None:
    trace: list[TraceEvent] = []
    fn = Flaky(ManualClock(), ConnectionRefusedError())
    d = AsyncDriver(pipeline(max_attempts=5, backoff=ConstantBackoff(base=60.0)), trace=trace)
    task = asyncio.create_task(d.call(fn))
    while not any(e.kind is E.WAIT for e in trace):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fn.calls == 1
    assert (trace[-1].kind, trace[-1].label) == (E.GIVE_UP, "cancelled")
    assert others() == set()


@asyncio_test
async def test_retry_after_honoured_and_clamped() -> None:
    clock = ManualClock()
    p = pipeline(max_attempts=4, max_retry_after=3.0)
    answers = [Response(200), Response(503, {"Retry-After": "120"}), Response(429, {"Retry-After": "1"})]

    async def call() -> Response:
        return answers.pop()

    from resilience.drivers import http_result_classifier

    trace: list[TraceEvent] = []
    d = driver(p, clock, trace, classify_result=http_result_classifier(p.classifier, wall=clock))
    assert await d.call(call) == Response(200)
    assert clock.sleeps == [1.0, 3.0]
    assert [(e.label, e.value) for e in trace if e.kind is E.WAIT] == [
        ("retry_after", 1.0),
        ("retry_after_clamped", 3.0),
    ]


@asyncio_test
async def test_deadline_scope_is_shared_by_nested_calls() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    d = driver(pipeline(max_attempts=10, backoff=ConstantBackoff(base=0.1)), clock, trace)
    with deadline_scope(Deadline.after(0.0, 1.0)):
        assert await d.call(Flaky(clock, took=0.4)) == "ok"
        rpc = Flaky(clock, *[ConnectionRefusedError()] * 10, took=0.2)
        with pytest.raises(DeadlineExceededError):
            await d.call(rpc)
    assert [e.value for e in trace if e.kind is E.REQUEST] == pytest.approx([1.0, 0.6])
    assert rpc.calls == 2


@asyncio_test
async def test_wrap_and_resilient_decorate_coroutine_functions() -> None:
    clock = ManualClock()
    fn = Flaky(clock, ConnectionRefusedError())

    @resilient(pipeline(), clock=clock, sleep=clock.async_sleep)
    async def fetch(x: int) -> str:
        return f"{await fn()}-{x}"

    assert asyncio.iscoroutinefunction(fetch)
    assert await fetch(7) == "ok-7" and fn.calls == 2 and fetch.__name__ == "fetch"


def test_scripted_hang_times_out_at_the_attempt_bound() -> None:
    run = play(
        run_async, lambda: pipeline(max_attempts=3, attempt_timeout=0.3), [hang(), fail("reset"), ok()]
    )
    assert run.value == Response(200) and run.calls == 3
    assert [e.evidence for e in run.trace if e.kind is E.OUTCOME] == [
        "timeout_attempt",
        "connection_error",
        "ok",
    ]


def test_scripted_retry_after() -> None:
    run = play(run_async, lambda: pipeline(max_attempts=2), [http(503, retry_after="2"), ok()])
    assert run.value == Response(200) and run.waits == [2.0]


@asyncio_test
async def test_a_cancelled_attempt_returns_its_breaker_permission_and_is_not_a_failure() -> None:
    from resilience.breaker import BreakerConfig, CircuitBreaker

    clock = ManualClock()
    breaker = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=1), name="db")
    p = Pipeline(RetryConfig(max_attempts=3), breaker=breaker)
    with pytest.raises(asyncio.CancelledError):
        await driver(p, clock).call(Flaky(clock, asyncio.CancelledError()))
    m = breaker.metrics(clock.now())
    assert (m.released, m.failed, m.successful) == (1, 0, 0)
