"""The front door: ``retry``, ``attempts``, the retrying callers, ``breaker`` and their give-ups."""

from __future__ import annotations

import asyncio
import inspect
import traceback
from typing import Any

import pytest

import resilience
from resilience.core import BreakerConfig, BreakerRegistry, ConstantBackoff, ManualClock, TraceEvent

FAST: Any = {"wait": 0.0}


class Flaky:
    """Raises the given exceptions in turn, then returns ``value``; counts calls."""

    def __init__(self, *errors: BaseException, value: str = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls = 0
        self.raised: list[BaseException] = []

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            exc = self.errors.pop(0)
            self.raised.append(exc)
            raise exc
        return self.value


class HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# -- on: which exceptions are retried --------------------------------------------------------


def test_on_a_type_retries_it_and_its_subclasses() -> None:
    fn = Flaky(KeyError(1), LookupError(2))
    assert resilience.retry(on=LookupError, attempts=3, **FAST)(fn)() == "ok"
    assert fn.calls == 3


def test_on_a_tuple_retries_each_member_and_nothing_else() -> None:
    fn = Flaky(KeyError(1), OSError(2), ValueError(3))
    with pytest.raises(ValueError):
        resilience.retry(on=(KeyError, OSError), attempts=5, **FAST)(fn)()
    assert fn.calls == 3  # the ValueError is not in `on`: raised at once


def test_an_exception_outside_on_is_not_retried_even_if_the_classifier_would() -> None:
    fn = Flaky(ConnectionRefusedError("transient for the classifier"))
    with pytest.raises(ConnectionRefusedError):
        resilience.retry(on=KeyError, attempts=5, **FAST)(fn)()
    assert fn.calls == 1


def test_the_classifier_still_refuses_permanent_errors_named_in_on() -> None:
    fn = Flaky(HTTPError(503), HTTPError(404), value="never")
    with pytest.raises(HTTPError) as caught:
        resilience.retry(on=HTTPError, attempts=5, **FAST)(fn)()
    assert caught.value.status == 404 and fn.calls == 2


def test_a_predicate_decides_alone() -> None:
    fn = Flaky(HTTPError(404), HTTPError(404), value="found")
    retry_404 = resilience.retry(on=lambda exc: isinstance(exc, HTTPError), attempts=3, **FAST)
    assert retry_404(fn)() == "found" and fn.calls == 3
    refused = Flaky(ConnectionRefusedError())
    with pytest.raises(ConnectionRefusedError):
        resilience.retry(on=lambda exc: False, attempts=3, **FAST)(refused)()
    assert refused.calls == 1


def test_a_predicate_returning_seconds_sets_the_wait() -> None:
    clock = ManualClock()
    fn = Flaky(HTTPError(429), HTTPError(429))
    wrapped = resilience.retry(on=lambda exc: 2.5, attempts=3, clock=clock, wait=ConstantBackoff(base=0.1))
    assert wrapped(fn)() == "ok"
    assert clock.sleeps == [2.5, 2.5]  # the predicate's delay, not the 0.1 s backoff


def test_on_result_retries_results_and_gives_up_with_retries_exhausted() -> None:
    answers = iter([503, 503, 503])
    with pytest.raises(resilience.RetriesExhausted) as caught:
        resilience.retry(on=OSError, attempts=3, on_result=lambda status: status >= 500, **FAST)(
            lambda: next(answers)
        )()
    assert caught.value.last_result == 503 and caught.value.attempts == 3
    assert isinstance(caught.value, resilience.RequestFailed)
    answers = iter([503, 200])
    good = resilience.retry(on=OSError, attempts=3, on_result=lambda s: s >= 500, **FAST)
    assert good(lambda: next(answers))() == 200


# -- give-ups keep the original exception --------------------------------------------------


def test_give_up_reraises_the_last_original_exception_with_its_traceback_and_a_note() -> None:
    def fetch() -> str:
        raise ConnectionResetError("peer reset")  # the line the traceback must still end at

    with pytest.raises(ConnectionResetError) as caught:
        resilience.retry(on=ConnectionError, attempts=3, **FAST)(fetch)()
    exc = caught.value
    last = traceback.extract_tb(exc.__traceback__)[-1]
    assert last.name == "fetch" and last.line is not None and "peer reset" in last.line
    assert len(exc.__notes__) == 1
    note = exc.__notes__[0]
    assert "3 attempt(s)" in note and "attempts exhausted" in note and "fetch" in note


def test_the_raised_exception_is_the_last_one_the_callee_raised() -> None:
    fn = Flaky(OSError("first"), OSError("second"), OSError("third"))
    with pytest.raises(OSError) as caught:
        resilience.retry(on=OSError, attempts=3, **FAST)(fn)()
    assert caught.value is fn.raised[-1]


def test_a_deadline_give_up_names_the_deadline() -> None:
    clock = ManualClock()
    fn = Flaky(*(OSError(i) for i in range(10)))
    with pytest.raises(OSError) as caught:
        resilience.retry(on=OSError, attempts=10, timeout=1.0, wait=0.4, clock=clock)(fn)()
    assert "deadline reached" in caught.value.__notes__[0] and fn.calls == 3


def test_a_non_retryable_first_error_propagates_without_a_note() -> None:
    fn = Flaky(ValueError("bad input"))
    with pytest.raises(ValueError) as caught:
        resilience.retry(on=OSError, **FAST)(fn)()
    assert not hasattr(caught.value, "__notes__")


def test_wrap_gives_the_drivers_request_failed_with_the_cause() -> None:
    fn = Flaky(OSError("a"), OSError("b"))
    with pytest.raises(resilience.RequestFailed) as caught:
        resilience.retry(on=OSError, attempts=2, wrap=True, **FAST)(fn)()
    assert caught.value.__cause__ is fn.raised[-1]


def test_cancellation_is_never_retried() -> None:
    fn = Flaky(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        resilience.retry(on=lambda exc: True, attempts=5, **FAST)(fn)()
    assert fn.calls == 1


# -- sync and async ----------------------------------------------------------------------------


def test_one_decorator_for_sync_and_async_functions() -> None:
    calls: list[str] = []

    @resilience.retry(on=OSError, attempts=2, **FAST)
    def sync_fn() -> str:
        calls.append("sync")
        if len(calls) == 1:
            raise OSError
        return "sync ok"

    @resilience.retry(on=OSError, attempts=2, **FAST)
    async def async_fn() -> str:
        await asyncio.sleep(0)
        calls.append("async")
        if calls.count("async") == 1:
            raise OSError
        return "async ok"

    assert not inspect.iscoroutinefunction(sync_fn) and inspect.iscoroutinefunction(async_fn)
    assert sync_fn() == "sync ok"
    assert asyncio.run(async_fn()) == "async ok"
    assert calls == ["sync", "sync", "async", "async"]
    assert sync_fn.__name__ == "sync_fn" and async_fn.__name__ == "async_fn"


def test_async_attempts_are_bounded_by_attempt_timeout() -> None:
    started: list[int] = []

    @resilience.retry(on=TimeoutError, attempts=3, attempt_timeout=0.05, **FAST)
    async def slow() -> str:
        started.append(1)
        if len(started) < 3:
            await asyncio.sleep(10)
        return "third"

    assert asyncio.run(slow()) == "third" and len(started) == 3


def test_iterator_forms_retry_a_block() -> None:
    seen: list[int] = []
    for attempt in resilience.attempts(on=KeyError, attempts=3, **FAST):
        with attempt:
            seen.append(attempt.number)
            if attempt.number < 3:
                raise KeyError(attempt.number)
    assert seen == [1, 2, 3]

    async def block() -> list[int]:
        numbers: list[int] = []
        async for attempt in resilience.attempts(on=KeyError, attempts=2, **FAST):
            async with attempt:
                numbers.append(attempt.number)
                if attempt.number < 2:
                    raise KeyError
        return numbers

    assert asyncio.run(block()) == [1, 2]


def test_the_callers_retry_each_call() -> None:
    fn = Flaky(OSError())
    caller = resilience.RetryingCaller(on=OSError, attempts=2, **FAST)
    assert caller(fn) == "ok" and fn.calls == 2

    async def coro(x: int) -> int:
        return x + 1

    assert asyncio.run(resilience.AsyncRetryingCaller(on=OSError)(coro, 1)) == 2


# -- breakers ----------------------------------------------------------------------------------


def _registry() -> BreakerRegistry:
    return BreakerRegistry(BreakerConfig(window_size=2, minimum_calls=2, wait_in_open=30.0), idle_ttl=600)


def test_a_shared_breaker_opens_and_refuses_with_the_seconds_until_a_probe() -> None:
    clock = ManualClock()
    registry = _registry()
    db = resilience.breaker("db", registry=registry, clock=clock)
    for _ in range(2):
        with pytest.raises(OSError), db.guard():
            raise OSError
    clock.advance(10.0)
    with pytest.raises(resilience.BreakerOpen) as caught, db.guard():
        pytest.fail("the open breaker let the block run")
    assert caught.value.retry_after == pytest.approx(20.0)
    assert isinstance(caught.value, resilience.Refused)
    assert isinstance(caught.value, resilience.core.BreakerOpenError)
    same = resilience.breaker("db", registry=registry, clock=clock)  # one breaker per name
    assert same.state is resilience.BreakerState.OPEN


def test_retry_with_a_breaker_name_puts_the_breaker_on_each_attempt() -> None:
    resilience.testing.set_testing(True, attempts=4)
    try:
        trace: list[TraceEvent] = []
        fn = Flaky(*(ConnectionRefusedError() for _ in range(200)))
        wrapped = resilience.retry(
            on=ConnectionError, breaker="payments", listeners=[lambda s, e: trace.append(e)]
        )(fn)
        for _ in range(25):  # 100 failed attempts: the default breaker's minimum calls
            with pytest.raises(ConnectionRefusedError):
                wrapped()
        assert fn.calls == 100
        with pytest.raises(resilience.BreakerOpen):
            wrapped()
        assert fn.calls == 100  # refused before any attempt
    finally:
        resilience.testing.set_testing(False)


def test_a_refusal_after_attempts_reraises_the_last_exception_noting_the_breaker() -> None:
    clock = ManualClock()
    registry = _registry()
    breaker = registry.get("svc", clock.now())
    fn = Flaky(*(OSError(i) for i in range(5)))
    with pytest.raises(OSError) as caught:
        resilience.retry(on=OSError, attempts=5, breaker=breaker, clock=clock, **FAST)(fn)()
    assert fn.calls == 2 and "breaker open" in caught.value.__notes__[0]


def test_set_active_false_calls_once_without_retrying() -> None:
    fn = Flaky(OSError(), OSError())
    wrapped = resilience.retry(on=OSError, attempts=3, **FAST)(fn)
    resilience.set_active(False)
    try:
        assert not resilience.is_active()
        with pytest.raises(OSError):
            wrapped()
        assert fn.calls == 1
    finally:
        resilience.set_active(True)
    assert wrapped() == "ok" and fn.calls == 3


def test_the_front_door_example_runs_and_shows_what_it_claims() -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "front_door.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("fetch: ok after waits [") and lines[0].count(",") == 1  # two waits
    assert lines[1] == "stock: 7; breaker closed"
    assert lines[2].startswith("gave up: ValueError('bad input'); note: resilience: gave up on")
    assert "DeprecationWarning" not in out.stderr
