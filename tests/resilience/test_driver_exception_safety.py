"""An exception in a result classifier, the classifier or a listener still settles the attempt.

The reproduction: a breaker half-open with one probe; the probe's result
classifier raises. The probe's permit must come back (released), so the next
call probes and closes the breaker, instead of a breaker stuck HALF_OPEN.
Listener errors are isolated: they never change a decision. Failed responses
that are not handed back are closed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest

from resilience.core import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Classifier,
    ConstantBackoff,
    ManualClock,
    Outcome,
    Pipeline,
    RetryConfig,
    TraceEvent,
)
from resilience.drivers import AsyncDriver, RequestFailed, SyncDriver, http_result_classifier

WAIT_IN_OPEN = 1.0


def half_open_edge(**pipeline: Any) -> tuple[ManualClock, CircuitBreaker, Pipeline]:
    """A breaker tripped by two failures at t=0, its one half-open probe due at t=1."""
    clock = ManualClock()
    breaker = CircuitBreaker(
        BreakerConfig(
            window_size=4, minimum_calls=2, wait_in_open=WAIT_IN_OPEN, permitted_calls_in_half_open=1
        ),
        name="db",
    )
    p = Pipeline(RetryConfig(max_attempts=1), breaker=breaker, rng=random.Random(1), **pipeline)
    trip = SyncDriver(Pipeline(RetryConfig(max_attempts=1), breaker=breaker), clock=clock, sleep=clock.sleep)
    for _ in range(2):
        with pytest.raises(RequestFailed):
            trip.call(refused)
    clock.advance(WAIT_IN_OPEN + 0.5)
    return clock, breaker, p


def refused() -> str:
    raise ConnectionRefusedError("scripted")


def ok() -> str:
    return "ok"


def after(call: Callable[[], str]) -> str:
    """The value of ``call()``, or what it raised, as text."""
    try:
        return call()
    except RequestFailed as exc:
        return f"failed: {exc.reason.value}"
    except Exception as exc:
        return f"raised {exc!r}"


def raising_classify(result: object) -> Outcome:
    raise ValueError("classify_result bug")


class RaisingClassifier(Classifier):
    def exception(self, exc: BaseException, *, wall_now: float | None = None) -> Outcome:
        raise LookupError("classifier bug")


def test_a_raising_classify_result_returns_the_half_open_probe_permit() -> None:
    clock, breaker, p = half_open_edge()
    buggy = SyncDriver(p, clock=clock, sleep=clock.sleep, classify_result=raising_classify)
    with pytest.raises(ValueError, match="classify_result bug"):
        buggy.call(ok)
    healthy = SyncDriver(p, clock=clock, sleep=clock.sleep)
    assert after(lambda: healthy.call(ok)) == "ok", "the breaker stayed HALF_OPEN with its probe taken"
    assert breaker.state_at(clock.now()) is BreakerState.CLOSED


def test_a_raising_classify_result_returns_the_probe_permit_in_asyncio() -> None:
    clock, breaker, p = half_open_edge()

    async def aok() -> str:
        return "ok"

    async def main() -> str:
        buggy = AsyncDriver(p, clock=clock, sleep=clock.async_sleep, classify_result=raising_classify)
        with pytest.raises(ValueError, match="classify_result bug"):
            await buggy.call(aok)
        try:
            return await AsyncDriver(p, clock=clock, sleep=clock.async_sleep).call(aok)
        except RequestFailed as exc:
            return f"failed: {exc.reason.value}"

    assert asyncio.run(main()) == "ok", "the breaker stayed HALF_OPEN with its probe taken"
    assert breaker.state_at(clock.now()) is BreakerState.CLOSED


def test_a_raising_classifier_returns_the_probe_permit() -> None:
    clock, breaker, p = half_open_edge(classifier=RaisingClassifier())
    with pytest.raises(LookupError, match="classifier bug"):
        SyncDriver(p, clock=clock, sleep=clock.sleep).call(refused)
    assert after(lambda: SyncDriver(p, clock=clock, sleep=clock.sleep).call(ok)) == "ok"
    assert breaker.state_at(clock.now()) is BreakerState.CLOSED


def test_a_raising_listener_changes_no_decision_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def listener(source: str, event: TraceEvent) -> None:
        seen.append(event.kind.value)
        raise RuntimeError("listener bug")

    clock, breaker, p = half_open_edge(listeners=[listener], name="listened")
    driver = SyncDriver(p, clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING):
        first = after(lambda: driver.call(ok))  # the probe
        second = after(lambda: driver.call(ok))
    assert (first, second) == ("ok", "ok")
    assert breaker.state_at(clock.now()) is BreakerState.CLOSED
    assert seen == ["request", "attempt", "outcome", "success"] * 2  # every listener call was made
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "listener bug" in r.getMessage()
    ]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


# ---------------------------------------------------------------------------
# failed responses are closed unless handed back


class Closable:
    def __init__(self, status: int) -> None:
        self.status = status
        self.headers: dict[str, str] = {}
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def script(*statuses: int) -> tuple[list[Closable], Callable[[], Closable]]:
    responses = [Closable(s) for s in statuses]
    queue = list(responses)
    return responses, lambda: queue.pop(0)


def http_pipeline(max_attempts: int) -> Pipeline:
    return Pipeline(
        RetryConfig(max_attempts=max_attempts, backoff=ConstantBackoff(base=0.1)), rng=random.Random(1)
    )


def test_failed_responses_are_closed_and_the_returned_one_is_not() -> None:
    clock = ManualClock()
    p = http_pipeline(3)
    responses, call = script(503, 500, 200)
    d = SyncDriver(p, clock=clock, sleep=clock.sleep, classify_result=http_result_classifier(p.classifier))
    assert d.call(call) is responses[2]
    assert [r.closed for r in responses] == [1, 1, 0]


def test_the_failed_response_handed_back_on_give_up_stays_open() -> None:
    clock = ManualClock()
    p = http_pipeline(2)
    responses, call = script(503, 502)
    d = SyncDriver(p, clock=clock, sleep=clock.sleep, classify_result=http_result_classifier(p.classifier))
    with pytest.raises(RequestFailed) as info:
        d.call(call)
    assert info.value.last_result is responses[1]
    assert [r.closed for r in responses] == [1, 0]


def test_failed_responses_are_closed_in_asyncio() -> None:
    clock = ManualClock()
    p = http_pipeline(3)
    responses, call = script(429, 503, 200)

    async def acall() -> Closable:
        return call()

    async def main() -> Closable:
        d = AsyncDriver(
            p, clock=clock, sleep=clock.async_sleep, classify_result=http_result_classifier(p.classifier)
        )
        return await d.call(acall)

    assert asyncio.run(main()) is responses[2]
    assert [r.closed for r in responses] == [1, 1, 0]
