"""End to end: the sync (urllib) and asyncio (streams) drivers against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from typing import Any
from urllib.error import HTTPError

import pytest
from httpserver import Answer, Response, aio_get, scripted_server

from resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from resilience.core import ConstantBackoff, EventKind, FailureReason, Pipeline, RetryConfig, TraceEvent
from resilience.drivers import (
    AsyncDriver,
    BreakerOpenError,
    DeadlineExceededError,
    RequestFailed,
    SyncDriver,
    http_result_classifier,
)

E = EventKind
DRIVERS = ["sync", "asyncio"]


def urllib_get(url: str, timeout: float | None = None) -> Response:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return Response(r.status, dict(r.headers), r.read())
    except HTTPError as e:
        e.close()
        raise


def fetch(
    kind: str, pipeline: Pipeline, url: str, trace: list[TraceEvent]
) -> tuple[Any, BaseException | None]:
    """One logical GET through the chosen driver: (value, error)."""
    try:
        if kind == "sync":
            # urllib raises HTTPError for 4xx/5xx: the pipeline's classifier reads its status and headers
            sync = SyncDriver(pipeline, pass_timeout="timeout", trace=trace)
            return sync.call(urllib_get, url), None
        # the asyncio client returns every answer: the result classifier reads status and headers
        aio = AsyncDriver(pipeline, classify_result=http_result_classifier(pipeline.classifier), trace=trace)
        return asyncio.run(aio.call(aio_get, url)), None
    except RequestFailed as exc:
        return None, exc


@pytest.mark.parametrize("kind", DRIVERS)
def test_503_with_retry_after_then_200_waits_at_least_the_hint(kind: str) -> None:
    script = [Answer(503, (("Retry-After", "0.2"),), b"busy"), Answer(200, body=b"hello")]
    trace: list[TraceEvent] = []
    pipeline = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.0)))
    with scripted_server(script) as server:
        value, error = fetch(kind, pipeline, server.url, trace)
        arrivals = server.arrivals()
    assert error is None and value.status == 200 and value.body == b"hello"
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.2  # measured by the server
    waits = [(e.label, e.value) for e in trace if e.kind is E.WAIT]
    assert waits == [("retry_after", 0.2)]
    assert next(e.evidence for e in trace if e.kind is E.OUTCOME) == "http_503"


@pytest.mark.parametrize("kind", DRIVERS)
def test_404_is_not_retried(kind: str) -> None:
    trace: list[TraceEvent] = []
    pipeline = Pipeline(RetryConfig(max_attempts=5, backoff=ConstantBackoff(base=0.0)))
    with scripted_server([Answer(404, body=b"no such thing")]) as server:
        _, error = fetch(kind, pipeline, server.url, trace)
        assert server.count == 1
    assert isinstance(error, RequestFailed) and error.reason is FailureReason.PERMANENT_ERROR
    assert error.last_outcome is not None and error.last_outcome.evidence == "http_404"
    if kind == "sync":
        assert isinstance(error.__cause__, HTTPError) and error.__cause__.code == 404
    else:
        assert error.last_result.status == 404


@pytest.mark.parametrize("kind", DRIVERS)
def test_the_deadline_stops_the_attempts(kind: str) -> None:
    # each 500 takes 0.05 s; waits 0.3 s; deadline 1 s: attempts at ~0, ~0.35, ~0.7,
    # then a wait to ~1.05 would outlast the deadline: give up at once after the third
    trace: list[TraceEvent] = []
    retry = RetryConfig(max_attempts=10, timeout=1.0, backoff=ConstantBackoff(base=0.3))
    pipeline = Pipeline(retry)
    with scripted_server([Answer(500, delay=0.05)]) as server:
        started = time.monotonic()
        _, error = fetch(kind, pipeline, server.url, trace)
        elapsed = time.monotonic() - started
        assert server.count == 3
    assert isinstance(error, DeadlineExceededError) and error.reason is FailureReason.DEADLINE_EXCEEDED
    assert error.attempts == 3 and elapsed < 1.0
    assert (trace[-1].kind, trace[-1].label) == (E.GIVE_UP, "deadline_exceeded")


@pytest.mark.parametrize("kind", DRIVERS)
def test_the_breaker_opens_after_the_configured_failures(kind: str) -> None:
    config = BreakerConfig(window_size=4, minimum_calls=4, failure_rate_threshold=0.5, wait_in_open=60.0)
    breaker = CircuitBreaker(config, name="backend")
    retry = RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.0))
    pipeline = Pipeline(retry, breaker=breaker)
    traces: list[list[TraceEvent]] = [[], [], []]
    with scripted_server([Answer(500)]) as server:
        _, first = fetch(kind, pipeline, server.url, traces[0])
        assert server.count == 3 and breaker.state is BreakerState.CLOSED
        _, second = fetch(kind, pipeline, server.url, traces[1])
        assert server.count == 4 and breaker.state is BreakerState.OPEN  # the 4th failure trips it
        _, third = fetch(kind, pipeline, server.url, traces[2])
        assert server.count == 4  # refused locally: nothing reaches the server
    assert isinstance(first, RequestFailed) and first.reason is FailureReason.RETRIES_EXHAUSTED
    assert isinstance(second, BreakerOpenError) and second.attempts == 1
    assert isinstance(third, BreakerOpenError) and third.attempts == 0
    assert [(e.kind, e.label) for e in traces[2]][1:] == [
        (E.REJECTED, "breaker_open"),
        (E.GIVE_UP, "breaker_open"),
    ]
