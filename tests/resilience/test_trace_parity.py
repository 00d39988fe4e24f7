"""One script of outcomes through every driver gives identical decision traces.

The sync driver, one asyncio runner and every front-door form (decorator,
caller object, ``for`` / ``async for`` blocks, sync and async) play the script
on a ``ManualClock`` (the callee raises the timeout itself). ``run_async_timeouts`` plays it on an
event loop whose clock jumps to the next timer: each attempt is bounded by the
driver's own ``asyncio.timeout``, which cancels a hanging callee.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from front_door_runners import FRONT_DOOR_RUNNERS
from scripted import RUNNERS, Reply, Response, Run, fail, hang, http, ok, play, run_stepwise

from resilience.core import (
    EventKind,
    ExponentialBackoff,
    FailureReason,
    FullJitter,
    ManualClock,
    Pipeline,
    RetryConfig,
    TraceEvent,
)
from resilience.drivers import AsyncDriver, RequestFailed, http_result_classifier

E = EventKind

# transient errors, a timeout, a server Retry-After (one clamped), then success
MIXED = [
    fail("refused", 0.05),
    http(503, 0.1, retry_after="1"),
    hang(),
    http(500, 0.2),
    http(429, 0.01, retry_after="60"),
    fail("reset", 0.02),
    ok(0.07),
]
# ends by the 2 s deadline: its third attempt is bounded by the time left and hangs
DEADLINE = [fail("refused", 0.4), http(503, 0.5, retry_after="1"), hang(), ok()]
# a permanent error after a retry
PERMANENT = [http(502, 0.3), fail("value_error", 0.1)]

# script, overall timeout
SCRIPTS = {"mixed": (MIXED, 10.0), "deadline": (DEADLINE, 2.0), "permanent": (PERMANENT, 10.0)}


def make_pipeline(timeout: float = 10.0) -> Pipeline:
    retry = RetryConfig(
        max_attempts=8,
        attempt_timeout=0.6,
        timeout=timeout,
        backoff=ExponentialBackoff(base=0.1, multiplier=2.0, cap=2.0, jitter=FullJitter()),
        max_retry_after=1.5,
    )
    return Pipeline(retry, rng=random.Random(20240626), name="parity")


class _JumpingSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would wait ``timeout`` seconds for I/O, its clock jumps ahead instead."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.now = start

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready:
            return ready
        if timeout is None:
            raise AssertionError("the event loop would wait forever: nothing is scheduled")
        self.now += timeout  # the loop passes (next timer - now): the clock lands on that timer
        return ready


class JumpingClockLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time: ``loop.time()`` moves only from one due timer to the next.

    Timers, ``asyncio.sleep`` and ``asyncio.timeout`` behave exactly as on a
    real loop, without the wait.
    """

    def __init__(self, start: float) -> None:
        self._jumping = _JumpingSelector(start)
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


@dataclass
class TimeoutRun(Run):
    """A run on the jumping-clock loop, with the attempts the driver's own bound cancelled."""

    cancelled: list[int] = field(default_factory=list)


def run_async_timeouts(
    pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any
) -> Run:
    """Play ``script`` through ``AsyncDriver`` on loop time, bounded by its own ``asyncio.timeout``.

    An attempt lasts ``reply.after`` seconds of loop time; a hanging one waits
    until the driver's ``asyncio.timeout`` cancels it. No timeout is handed to
    the callee, so every timeout in the trace comes from that bound firing.
    """
    trace: list[TraceEvent] = []
    waits: list[float] = []
    cancelled: list[int] = []
    calls = 0

    async def call() -> Response:
        nonlocal calls
        reply = script[calls]
        calls += 1
        try:
            if reply.error == "hang":
                await asyncio.get_running_loop().create_future()
            await asyncio.sleep(reply.after)
        except asyncio.CancelledError:
            cancelled.append(calls)
            raise
        return reply.answer()

    async def sleep(delay: float) -> None:
        waits.append(delay)
        await asyncio.sleep(delay)

    driver = AsyncDriver(
        pipeline,
        sleep=sleep,
        wall=clock,
        classify_result=http_result_classifier(pipeline.classifier, wall=clock),
        trace=trace,
        **options,
    )

    async def main() -> TimeoutRun:
        assert asyncio.get_running_loop().time() == clock.now()
        value: Response | None = None
        error: BaseException | None = None
        try:
            value = await driver.call(call)
        except Exception as exc:
            error = exc
        return TimeoutRun(trace, value, error, calls, waits, cancelled)

    with asyncio.Runner(loop_factory=lambda: JumpingClockLoop(clock.now())) as runner:
        return runner.run(main())


ALL_RUNNERS = {**RUNNERS, "asyncio_timeout": run_async_timeouts, **FRONT_DOOR_RUNNERS}


def runs(script: list[Reply], timeout: float = 10.0) -> dict[str, Run]:
    return {
        name: play(runner, lambda: make_pipeline(timeout), script) for name, runner in ALL_RUNNERS.items()
    }


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_driver_yields_the_same_trace(name: str) -> None:
    results = runs(*SCRIPTS[name])
    reference = results["sync"]
    assert len(reference.trace) > 6
    for driver, run in results.items():
        assert run.trace == reference.trace, driver  # times, waits and labels, field by field
        assert run.waits == reference.waits, driver
        assert run.calls == reference.calls, driver
        assert run.value == reference.value, driver
        assert type(run.error) is type(reference.error), driver


def test_the_mixed_script_exercises_each_mechanism() -> None:
    run = runs(MIXED)["asyncio"]
    assert run.value is not None and run.value.status == 200 and run.calls == 7
    outcomes = [e.evidence for e in run.trace if e.kind is E.OUTCOME]
    assert outcomes == [
        "connection_refused",
        "http_503",
        "timeout_attempt",
        "http_500",
        "http_429",
        "connection_error",
        "ok",
    ]
    waits = [(e.label, e.value) for e in run.trace if e.kind is E.WAIT]
    assert [w[0] for w in waits] == [
        "backoff",
        "retry_after",
        "backoff",
        "backoff",
        "retry_after_clamped",
        "backoff",
    ]
    assert waits[1][1] == 1.0 and waits[4][1] == 1.5
    jittered = [w[1] for w in waits if w[0] == "backoff"]
    assert len(set(jittered)) == len(jittered)  # real jitter draws, equal across drivers
    assert run.waits == [w[1] for w in waits]
    assert run.trace[-1].kind is E.SUCCESS


def test_the_deadline_script_ends_by_the_deadline() -> None:
    run = runs(DEADLINE, 2.0)["asyncio"]
    assert isinstance(run.error, RequestFailed)
    assert run.error.reason is FailureReason.DEADLINE_EXCEEDED
    bounds = [e.label for e in run.trace if e.kind is E.ATTEMPT]
    assert bounds == ["attempt", "attempt", "deadline"] and run.calls == 3
    assert run.trace[-1].time == pytest.approx(102.0)  # the clock started at 100


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_outcome_of_matches_what_the_drivers_classify(name: str) -> None:
    """The outcome-fed loop (the shape of a simulator's driver) gives the drivers' trace too."""
    script, timeout = SCRIPTS[name]
    reference = play(RUNNERS["sync"], lambda: make_pipeline(timeout), script)
    stepwise = play(run_stepwise, lambda: make_pipeline(timeout), script)
    assert stepwise.trace == reference.trace and stepwise.waits == reference.waits
    assert stepwise.value == reference.value and type(stepwise.error) is type(reference.error)


def test_a_different_seed_changes_the_trace() -> None:
    """Negative control: the comparison is sensitive to a single jitter draw."""
    a = play(RUNNERS["sync"], make_pipeline, MIXED)

    def other() -> Pipeline:
        p = make_pipeline()
        p.rng = random.Random(1)
        return p

    b = play(RUNNERS["asyncio"], other, MIXED)
    assert a.trace != b.trace


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_asyncio_timeouts_fire_where_the_script_says(name: str) -> None:
    """Every timeout in the loop-time trace is an attempt the driver's ``asyncio.timeout`` cancelled."""
    script, timeout = SCRIPTS[name]
    run = play(run_async_timeouts, lambda: make_pipeline(timeout), script)
    assert isinstance(run, TimeoutRun)
    timed_out = [e.attempt for e in run.trace if e.kind is E.OUTCOME and e.evidence.startswith("timeout")]
    assert run.cancelled == timed_out
    hangs = [n for n, reply in enumerate(script[: run.calls], 1) if reply.error == "hang"]
    assert run.cancelled == hangs  # the scripted hangs, and nothing else
    bounds = {e.attempt: e.value for e in run.trace if e.kind is E.ATTEMPT}
    started = {e.attempt: e.time for e in run.trace if e.kind is E.ATTEMPT}
    ended = {e.attempt: e.time for e in run.trace if e.kind is E.OUTCOME}
    for n in hangs:  # a hang lasts exactly the bound it was handed
        assert ended[n] - started[n] == pytest.approx(bounds[n], abs=1e-9)


def test_the_loop_time_runner_sees_a_late_answer_as_a_timeout() -> None:
    """Negative control: an answer 1 ms past the attempt bound is cut off there, not returned."""
    late = [fail("refused", 0.05), ok(0.601)]
    on_time = [fail("refused", 0.05), ok(0.599)]
    cut = play(run_async_timeouts, make_pipeline, [*late, ok(0.01)])
    kept = play(run_async_timeouts, make_pipeline, on_time)
    assert isinstance(cut, TimeoutRun) and isinstance(kept, TimeoutRun)
    assert cut.cancelled == [2] and kept.cancelled == []
    assert [e.evidence for e in cut.trace if e.kind is E.OUTCOME] == [
        "connection_refused",
        "timeout_attempt",
        "ok",
    ]
    assert [e.evidence for e in kept.trace if e.kind is E.OUTCOME] == ["connection_refused", "ok"]
    assert cut.trace[:4] == kept.trace[:4]  # the same run until the second attempt's end
