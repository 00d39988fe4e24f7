"""Real timeouts on asyncio: the attempt bound fires while the server is still busy; cancellation is final."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from httpserver import aio_get
from prometheus_client import CollectorRegistry
from scripted import asyncio_test

from resilience.core import (
    ConstantBackoff,
    Deadline,
    EventKind,
    FailureReason,
    Pipeline,
    RetryConfig,
    TraceEvent,
)
from resilience.drivers import AsyncDriver, DeadlineExceededError, http_result_classifier
from resilience.metrics.prometheus import PrometheusExporter

E = EventKind
ATTEMPT_TIMEOUT = 0.2
TOLERANCE = 0.15


@dataclass
class SlowServer:
    """Answers request n after ``delays[n]`` seconds (the last repeats); tracks its handler tasks."""

    delays: list[float]
    started: list[float] = field(default_factory=list)
    finished: list[bool] = field(default_factory=list)
    tasks: set[asyncio.Task[object]] = field(default_factory=set)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        n = len(self.started)
        self.started.append(asyncio.get_running_loop().time())
        self.finished.append(False)
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(self.delays[min(n, len(self.delays) - 1)])
            status = b"500 Internal Server Error" if self.delays[-1] < 0 else b"200 OK"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            self.finished[n] = True
        except (ConnectionError, asyncio.IncompleteReadError):
            self.finished[n] = True
        except asyncio.CancelledError:
            pass  # the test server shuts down; the handler ends without finishing
        finally:
            writer.close()


@asynccontextmanager
async def slow_server(*delays: float) -> AsyncIterator[SlowServer]:
    state = SlowServer(list(delays))
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        yield state
    finally:
        server.close()
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await server.wait_closed()


def driver(pipeline: Pipeline, trace: list[TraceEvent]) -> AsyncDriver:
    return AsyncDriver(pipeline, classify_result=http_result_classifier(pipeline.classifier), trace=trace)


def others(server: SlowServer) -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()} - server.tasks  # type: ignore[operator]


@asyncio_test
async def test_the_retry_leaves_at_the_attempt_timeout_while_the_server_is_still_busy() -> None:
    loop = asyncio.get_running_loop()
    trace: list[TraceEvent] = []
    at_second_attempt: list[tuple[float, list[bool]]] = []

    def watch(source: str, event: TraceEvent) -> None:
        if event.kind is E.ATTEMPT and event.attempt == 2:
            at_second_attempt.append((loop.time(), list(server.finished)))

    registry = CollectorRegistry()
    retry = RetryConfig(max_attempts=3, attempt_timeout=ATTEMPT_TIMEOUT, backoff=ConstantBackoff(base=0.0))
    pipeline = Pipeline(retry, listeners=[watch, PrometheusExporter(registry)], name="api")
    async with slow_server(2.0, 0.0) as server:
        t0 = loop.time()
        response = await driver(pipeline, trace).call(aio_get, server.url)
        assert response.status == 200
        ((left_at, finished),) = at_second_attempt
        assert ATTEMPT_TIMEOUT <= left_at - t0 <= ATTEMPT_TIMEOUT + TOLERANCE
        assert finished[0] is False  # the abandoned attempt is still being served
        assert server.finished[0] is False and len(server.started) == 2
        assert others(server) == set()  # the driver left no task behind
    kinds = [(e.kind, e.label, e.evidence) for e in trace]
    assert kinds == [
        (E.REQUEST, "", ""),
        (E.ATTEMPT, "attempt", ""),
        (E.OUTCOME, "timeout", "timeout_attempt"),  # the per-attempt bound fired
        (E.WAIT, "backoff", ""),
        (E.ATTEMPT, "attempt", ""),
        (E.OUTCOME, "success", "http_200"),
        (E.SUCCESS, "", ""),
    ]
    assert trace[2].value == pytest.approx(ATTEMPT_TIMEOUT, abs=TOLERANCE)
    timeouts = registry.get_sample_value(
        "resilience_timeouts_total", {"name": "api", "source": "client", "phase": "attempt"}
    )
    assert timeouts == 1.0
    timeout_attempts = {"name": "api", "outcome": "timeout"}
    assert registry.get_sample_value("resilience_attempts_total", timeout_attempts) == 1.0


@asyncio_test
async def test_the_deadline_bound_fires_with_the_deadline_phase() -> None:
    loop = asyncio.get_running_loop()
    trace: list[TraceEvent] = []
    registry = CollectorRegistry()
    retry = RetryConfig(max_attempts=3, attempt_timeout=0.5)
    pipeline = Pipeline(retry, listeners=[PrometheusExporter(registry)], name="api")
    async with slow_server(2.0) as server:
        t0 = loop.time()
        entry = driver(pipeline, trace).options(deadline=Deadline.after(t0, 0.3))
        with pytest.raises(DeadlineExceededError) as info:
            await entry.call(aio_get, server.url)
        assert 0.3 <= loop.time() - t0 <= 0.3 + TOLERANCE
        assert len(server.started) == 1 and server.finished == [False]
    assert info.value.attempts == 1 and isinstance(info.value.__cause__, TimeoutError)
    assert (trace[1].label, trace[2].evidence) == ("deadline", "timeout_deadline")
    labels = {"name": "api", "source": "client", "phase": "deadline"}
    assert registry.get_sample_value("resilience_timeouts_total", labels) == 1.0
    failures = {"name": "api", "result": "failure", "reason": "deadline_exceeded"}
    assert registry.get_sample_value("resilience_requests_total", failures) == 1.0


@asyncio_test
async def test_cancellation_from_outside_is_never_retried() -> None:
    trace: list[TraceEvent] = []
    retry = RetryConfig(max_attempts=5, attempt_timeout=ATTEMPT_TIMEOUT, backoff=ConstantBackoff(base=0.0))
    async with slow_server(2.0) as server:
        task = asyncio.create_task(driver(Pipeline(retry), trace).call(aio_get, server.url))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(2 * ATTEMPT_TIMEOUT)  # a retry, if any, would have arrived by now
        assert len(server.started) == 1
        assert others(server) == set()
    assert [(e.kind, e.label) for e in trace] == [
        (E.REQUEST, ""),
        (E.ATTEMPT, "attempt"),
        (E.OUTCOME, "cancelled"),
        (E.GIVE_UP, FailureReason.CANCELLED.value),
    ]


@asyncio_test
async def test_cancellation_during_the_backoff_wait_is_never_retried() -> None:
    trace: list[TraceEvent] = []
    retry = RetryConfig(max_attempts=5, backoff=ConstantBackoff(base=5.0))
    async with slow_server(-1.0) as server:  # answers 500 at once
        task = asyncio.create_task(driver(Pipeline(retry), trace).call(aio_get, server.url))
        while not any(e.kind is E.WAIT for e in trace):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(server.started) == 1
    assert [(e.kind, e.label) for e in trace][-2:] == [(E.WAIT, "backoff"), (E.GIVE_UP, "cancelled")]
