"""The SimPy drivers give the same decision trace as the sync and asyncio drivers for one script."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "resilience"))

from scripted import RUNNERS, Reply, Run, failure, outcome_of, play
from test_trace_parity import SCRIPTS, make_pipeline

from resilience import Attempt, Done, EventKind, ManualClock, Outcome, Pipeline, TimeoutPhase, TraceEvent
from resilience.steps import GiveUp
from sim.driver import CallbackRequest, SimPyDriver, call_later


def _waits(trace: list[TraceEvent]) -> list[float]:
    return [e.value for e in trace if e.kind is EventKind.WAIT]


def run_simpy(pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any) -> Run:
    """Play ``script`` through ``SimPyDriver``: attempts are SimPy processes raced against the timeout."""
    env = simpy.Environment(initial_time=clock.now())
    trace: list[TraceEvent] = []
    calls = [0]
    last: list[Any] = [None]

    def attempt(step: Attempt) -> simpy.Event:
        clock.advance(env.now - clock.now())
        reply = script[calls[0]]
        calls[0] += 1
        seconds, outcome, response = outcome_of(reply, pipeline, step, clock)
        timeout = None if step.timeout == math.inf else step.timeout
        if reply.duration(timeout)[1]:
            return env.event()  # never answers in time: the driver's timer decides

        def answer() -> Any:
            yield env.timeout(seconds)
            last[0] = response
            return outcome

        return env.process(answer())

    proc = SimPyDriver(env, pipeline, trace=trace, **options).call(attempt)
    env.run(until=proc)
    step = proc.value
    if isinstance(step, Done):
        return Run(trace, last[0], None, calls[0], _waits(trace))
    return Run(trace, None, failure(step, calls[0], last[0]), calls[0], _waits(trace))


class _ScriptedRequest(CallbackRequest):
    __slots__ = ("calls", "clock", "done", "pipeline", "result", "script", "value")

    def send(self, step: Attempt) -> None:
        env = self.env
        self.clock.advance(env.now - self.clock.now())
        reply = self.script[self.calls]
        self.calls += 1
        seconds, outcome, response = outcome_of(reply, self.pipeline, step, self.clock)
        state = {"open": True}

        def answer(_ev: object) -> None:
            if state["open"]:
                state["open"] = False
                self.value = response
                self.deliver(outcome)

        def expire(_ev: object) -> None:
            if state["open"]:
                state["open"] = False
                self.deliver(Outcome.timeout(step.phase or TimeoutPhase.ATTEMPT))

        timeout = None if step.timeout == math.inf else step.timeout
        if not reply.duration(timeout)[1]:
            call_later(env, seconds, answer)
        if step.timeout < math.inf:
            call_later(env, step.timeout, expire)

    def finish(self, step: Done | GiveUp) -> None:
        self.result = step


def run_callbacks(pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any) -> Run:
    """Play ``script`` through the simulator's callback driver (its hot path)."""
    env = simpy.Environment(initial_time=clock.now())
    trace: list[TraceEvent] = []
    req = _ScriptedRequest(env, pipeline.begin(env.now, trace=trace, **options))
    req.calls, req.clock, req.pipeline, req.script, req.value, req.result = (
        0,
        clock,
        pipeline,
        script,
        None,
        None,
    )
    req.start()
    env.run()
    if isinstance(req.result, Done):
        return Run(trace, req.value, None, req.calls, _waits(trace))
    return Run(trace, None, failure(req.result, req.calls, req.value), req.calls, _waits(trace))


@pytest.mark.parametrize("name", sorted(SCRIPTS))
@pytest.mark.parametrize("runner", [run_simpy, run_callbacks], ids=["process", "callbacks"])
def test_simpy_trace_equals_sync_and_asyncio(name: str, runner: Any) -> None:
    script, timeout = SCRIPTS[name]
    ours = play(runner, lambda: make_pipeline(timeout), script)
    for driver, other in RUNNERS.items():
        if driver not in ("sync", "asyncio"):
            continue
        ref = play(other, lambda: make_pipeline(timeout), script)
        assert len(ref.trace) > 4
        assert ours.trace == ref.trace, driver
        assert ours.waits == ref.waits, driver
        assert ours.calls == ref.calls, driver
        assert ours.value == ref.value, driver
        assert type(ours.error) is type(ref.error), driver
        if ours.error is not None:
            assert ours.error.reason is ref.error.reason  # type: ignore[attr-defined]
