"""Scripted attempts for driver tests: a script of replies, and runners that turn it into a trace.

A script is a list of ``Reply`` values, one per attempt. Each runner plays the
script through one driver on a ``ManualClock`` and returns a ``Run`` (trace,
value or error, driver waits). Every driver must give identical runs for the
same script and pipeline settings; a new driver joins by adding a runner.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resilience.core import (
    Attempt,
    Done,
    EventKind,
    ManualClock,
    Outcome,
    Pipeline,
    TimeoutPhase,
    TraceEvent,
    Wait,
)
from resilience.drivers import AsyncDriver, SyncDriver, http_result_classifier
from resilience.drivers.errors import failure


@dataclass(frozen=True)
class Response:
    """A minimal HTTP answer: what the drivers' result classifier reads."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Reply:
    """One scripted attempt: it takes ``after`` seconds, then answers ``status`` or raises ``error``.

    ``error="hang"`` never answers: the attempt runs until the timeout it was
    handed and then times out. An attempt longer than its timeout also times out.
    """

    after: float = 0.0
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    error: str | None = None  # None | "refused" | "reset" | "hang" | "value_error"

    def duration(self, timeout: float | None) -> tuple[float, bool]:
        """Seconds the attempt lasts under ``timeout`` and whether it ends by timing out."""
        own = math.inf if self.error == "hang" else self.after
        if timeout is not None and own >= timeout:
            return timeout, True
        return own, False

    def answer(self) -> Response:
        """Return the response or raise the scripted error."""
        if self.error == "refused":
            raise ConnectionRefusedError("scripted: connection refused")
        if self.error == "reset":
            raise ConnectionResetError("scripted: connection reset")
        if self.error == "value_error":
            raise ValueError("scripted: bad request data")
        return Response(self.status, dict(self.headers))


def ok(after: float = 0.0) -> Reply:
    return Reply(after)


def http(status: int, after: float = 0.0, *, retry_after: str | None = None) -> Reply:
    headers = () if retry_after is None else (("Retry-After", retry_after),)
    return Reply(after, status, headers)


def fail(error: str, after: float = 0.0) -> Reply:
    return Reply(after, 0, (), error)


def hang() -> Reply:
    return Reply(error="hang")


@dataclass
class Run:
    """What one driver made of a script."""

    trace: list[TraceEvent]
    value: Response | None
    error: BaseException | None
    calls: int
    waits: list[float]

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.trace]


Runner = Callable[..., Run]


class _Player:
    def __init__(self, script: Sequence[Reply], clock: ManualClock) -> None:
        self.script = list(script)
        self.clock = clock
        self.calls = 0

    def take(self, timeout: float | None) -> Reply:
        if self.calls >= len(self.script):
            raise AssertionError(f"script exhausted after {self.calls} attempts")
        reply = self.script[self.calls]
        self.calls += 1
        seconds, timed_out = reply.duration(timeout)
        self.clock.advance(seconds)
        if timed_out:
            raise TimeoutError("scripted: attempt timed out")
        return reply


def run_sync(pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any) -> Run:
    """Play ``script`` through ``SyncDriver``."""
    player = _Player(script, clock)
    trace: list[TraceEvent] = []

    def call(timeout: float | None = None) -> Response:
        return player.take(timeout).answer()

    driver = SyncDriver(
        pipeline,
        clock=clock,
        sleep=clock.sleep,
        wall=clock,
        classify_result=http_result_classifier(pipeline.classifier, wall=clock),
        pass_timeout="timeout",
        trace=trace,
        **options,
    )
    value: Response | None = None
    error: BaseException | None = None
    try:
        value = driver.call(call)
    except Exception as exc:
        error = exc
    return Run(trace, value, error, player.calls, list(clock.sleeps))


def run_async(pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any) -> Run:
    """Play ``script`` through ``AsyncDriver`` in a fresh event loop."""
    player = _Player(script, clock)
    trace: list[TraceEvent] = []

    async def call(timeout: float | None = None) -> Response:
        await asyncio.sleep(0)
        reply = player.take(timeout)
        await asyncio.sleep(0)
        return reply.answer()

    driver = AsyncDriver(
        pipeline,
        clock=clock,
        sleep=clock.async_sleep,
        wall=clock,
        classify_result=http_result_classifier(pipeline.classifier, wall=clock),
        pass_timeout="timeout",
        trace=trace,
        **options,
    )

    async def main() -> Run:
        value: Response | None = None
        error: BaseException | None = None
        try:
            value = await driver.call(call)
        except Exception as exc:
            error = exc
        return Run(trace, value, error, player.calls, list(clock.sleeps))

    return asyncio.run(main())


RUNNERS: dict[str, Runner] = {"sync": run_sync, "asyncio": run_async}


def outcome_of(
    reply: Reply, pipeline: Pipeline, step: Attempt, clock: ManualClock
) -> tuple[float, Outcome, Response | None]:
    """(duration, outcome, response) of ``reply`` as the sync and asyncio drivers classify it.

    For drivers that take outcomes rather than calls (a simulator's): play the
    duration on their own clock, then report the outcome.
    """
    timeout = None if step.timeout == math.inf else step.timeout
    seconds, timed_out = reply.duration(timeout)
    if timed_out:
        return seconds, Outcome.timeout(step.phase or TimeoutPhase.ATTEMPT), None
    try:
        response = reply.answer()
    except Exception as exc:
        return seconds, pipeline.classifier.exception(exc, wall_now=clock.wall()), None
    classify = http_result_classifier(pipeline.classifier, wall=clock)
    return seconds, classify(response), response


def run_stepwise(pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any) -> Run:
    """Play ``script`` through ``Execution`` with ``outcome_of`` (the shape of an outcome-fed driver)."""
    trace: list[TraceEvent] = []
    ex = pipeline.begin(clock.now(), trace=trace, **options)
    calls, value = 0, None
    step = ex.next(clock.now())
    while True:
        if isinstance(step, Attempt):
            seconds, outcome, value = outcome_of(script[calls], pipeline, step, clock)
            calls += 1
            clock.advance(seconds)
            step = ex.next(clock.now(), outcome)
        elif isinstance(step, Wait):
            clock.sleep(step.delay)
            step = ex.next(clock.now())
        elif isinstance(step, Done):
            return Run(trace, value, None, calls, list(clock.sleeps))
        else:
            return Run(trace, None, failure(step, ex.attempts, value), calls, list(clock.sleeps))


def play(
    runner: Runner,
    make_pipeline: Callable[[], Pipeline],
    script: Sequence[Reply],
    *,
    start: float = 100.0,
    **options: Any,
) -> Run:
    """A fresh pipeline and clock, the script played through ``runner``."""
    return runner(make_pipeline(), script, ManualClock(start), **options)


def asyncio_test(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run an ``async def`` test in a fresh event loop (no pytest plugin needed)."""
    import functools

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return run
