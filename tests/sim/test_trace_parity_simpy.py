"""The simulator gives the same decision trace as the sync and asyncio drivers for one script.

Two kinds of check: the SimPy drivers (``SimPyDriver``, ``CallbackRequest``)
fed scripted outcomes; and the simulator's production client path — a client
group, its link and a real service whose random draws are scripted — where
the outcomes, the attempt timeouts (the shared expiry queue and per-attempt
timers), compare-and-set round trips and cancel-on-timeout are the model's own.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "resilience"))

from scripted import RUNNERS, Reply, Response, Run, fail, failure, hang, http, ok, outcome_of, play, run_sync
from test_trace_parity import SCRIPTS, make_pipeline, run_async_timeouts

from resilience.core import Attempt, Done, EventKind, ManualClock, Outcome, Pipeline, TimeoutPhase, TraceEvent
from resilience.steps import GiveUp
from sim.model.client import GroupRT
from sim.model.driver import CallbackRequest, SimPyDriver, call_later
from sim.model.links import LinkRT
from sim.model.service import ServiceRT
from sim.observe.record import Recorder
from sim.scenario.distributions import Constant, Exponential
from sim.scenario.spec import ClientGroup, ErrorSpec, Link, Service


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


# -- the production client path: GroupRT → LinkRT → ServiceRT, outcomes from the model itself -------

LINK = 0.01  # one-way link latency: every message takes it, each way


class ScriptedDraws:
    """Stands in for a numpy ``Generator``: hands out the scripted values in order, then ``fill``."""

    def __init__(self, values: Sequence[float], fill: float) -> None:
        self.values = list(values)
        self.fill = fill

    def _take(self, n: int) -> np.ndarray:
        head, self.values = self.values[:n], self.values[n:]
        return np.array(head + [self.fill] * (n - len(head)))

    def random(self, n: int) -> np.ndarray:
        return self._take(n)

    def exponential(self, scale: float, n: int) -> np.ndarray:
        return self._take(n)


# The service's error specs: an error draw in [0.1 i, 0.1 (i + 1)) picks ERRORS[i]; above, no error.
ERRORS = (
    ErrorSpec(probability=0.1, refuse=True),
    ErrorSpec(probability=0.1, status=503, retry_after=1.0),
    ErrorSpec(probability=0.1, status=500),
    ErrorSpec(probability=0.1, status=429, retry_after=60.0),
)
REFUSE, E503, E500, E429 = 0.05, 0.15, 0.25, 0.35
SERVE = 0.95
HANG = 50.0  # a service time no attempt waits for


@dataclass(frozen=True)
class ServiceScript:
    """What the service draws: one error draw per arriving message, one service time per call it starts."""

    draws: tuple[float, ...]
    service: tuple[float, ...]
    operation: str = "call"
    workers: int = 1
    cancel_on_timeout: bool = True


class SerializationFailure(Exception):
    """A database's compare-and-set conflict, as a driver sees it."""

    sqlstate = "40001"


@dataclass(frozen=True)
class Conflict(Reply):
    """A scripted attempt that ends in a serialization failure after ``after`` seconds."""

    def answer(self) -> Response:
        raise SerializationFailure("could not serialize access due to concurrent update")


@dataclass
class ClientRun:
    """What the simulator's client group made of one request."""

    trace: list[TraceEvent]
    group: GroupRT
    service: ServiceRT


def run_client(pipeline: Pipeline, script: ServiceScript, start: float = 100.0) -> ClientRun:
    """One request of a one-instance client group over a link to a service that follows ``script``."""
    env = simpy.Environment(initial_time=start)
    trace: list[TraceEvent] = []
    pipeline.add_listener(lambda _source, event: trace.append(event))
    service_cfg = Service(
        workers=script.workers,
        service_time=Exponential(mean=1.0),
        errors=ERRORS,
        cancel_on_timeout=script.cancel_on_timeout,
    )
    service = ServiceRT(
        env, "db", service_cfg, ScriptedDraws(script.service, 0.0), ScriptedDraws(script.draws, SERVE), 0.0
    )
    rng = np.random.default_rng(0)  # unused: a constant latency and no loss draw nothing
    link = LinkRT("lan", Link(latency=Constant(LINK)), rng, rng)
    group_cfg = ClientGroup(target="db", link="lan", operation=script.operation, retry=pipeline.retry)
    recorder = Recorder(env, start + 100.0, 1.0, 5.0)
    group = GroupRT(env, "app", group_cfg, service, link, [pipeline], pipeline.classifier, 0.0, 1.0, recorder)
    group.start(0)
    env.run()
    assert group.in_flight == 0, "the request never finished"
    return ClientRun(trace, group, service)


def assert_same_trace(ours: list[TraceEvent], ref: list[TraceEvent]) -> None:
    """Decisions equal field by field; times and values equal up to float rounding of summed delays."""
    assert [(e.kind, e.attempt, e.label, e.evidence) for e in ours] == [
        (e.kind, e.attempt, e.label, e.evidence) for e in ref
    ]
    assert [e.time for e in ours] == pytest.approx([e.time for e in ref], abs=1e-9)
    assert [e.value for e in ours] == pytest.approx([e.value for e in ref], abs=1e-9)


def evidence(trace: list[TraceEvent]) -> list[str]:
    return [e.evidence for e in trace if e.kind is EventKind.OUTCOME]


# name: (what the client sees, what the service does, overall timeout)
CLIENT_CASES: dict[str, tuple[list[Reply], ServiceScript, float]] = {
    # every message crosses the link (0.01 s each way); the hang is sent while the expiry timer
    # still runs for the first attempt, so the re-armed timer must end it; it holds the only
    # worker until cancelled at its timeout, so the next attempts are served at once
    "mixed": (
        [
            fail("refused", 0.02),
            hang(),
            http(503, 0.1, retry_after="1"),
            http(500, 0.2),
            http(429, 0.03, retry_after="60"),
            ok(0.07),
        ],
        ServiceScript(draws=(REFUSE, SERVE, E503, E500, E429, SERVE), service=(HANG, 0.08, 0.18, 0.01, 0.05)),
        10.0,
    ),
    # the third attempt is bounded by the 2 s deadline, not by the attempt timeout (its own timer)
    "deadline": (
        [http(500, 0.4), http(503, 0.5, retry_after="1"), hang(), ok()],
        ServiceScript(draws=(E500, E503, SERVE), service=(0.38, 0.48, HANG)),
        2.0,
    ),
    # compare-and-set, two trips per attempt: attempt 1's write outlasts its timeout and, not
    # cancelled, commits late; attempt 2 read the old version, so its write conflicts; attempt 3 wins
    "cas": (
        [hang(), Conflict(0.54), ok(0.08)],
        ServiceScript(
            draws=(SERVE,) * 6,
            service=(0.05, 1.0, 0.05, 0.45, 0.02, 0.02),
            operation="cas",
            workers=2,
            cancel_on_timeout=False,
        ),
        10.0,
    ),
}


@pytest.mark.parametrize("name", sorted(CLIENT_CASES))
def test_the_client_path_gives_the_drivers_trace(name: str) -> None:
    script, service, timeout = CLIENT_CASES[name]
    sim = run_client(make_pipeline(timeout), service)
    for runner in (run_sync, run_async_timeouts):
        ref = play(runner, lambda: make_pipeline(timeout), script)
        assert len(ref.trace) > 4
        assert_same_trace(sim.trace, ref.trace)
        g = sim.group
        assert g.attempts == ref.calls
        assert sum(g.retries.values()) == len(ref.waits)
        if ref.error is None:
            assert (g.successes, g.failures) == (1, {})
        else:
            assert (g.successes, g.failures) == (0, {ref.error.reason.value: 1})  # type: ignore[attr-defined]


def test_the_client_path_exercises_each_timeout_branch() -> None:
    mixed = run_client(make_pipeline(), CLIENT_CASES["mixed"][1])
    assert mixed.group.timeouts == {"attempt": 1}  # through the shared expiry queue
    deadline = run_client(make_pipeline(2.0), CLIENT_CASES["deadline"][1])
    assert deadline.group.timeouts == {"deadline": 1}  # through its own timer
    bounds = [e.label for e in deadline.trace if e.kind is EventKind.ATTEMPT]
    assert bounds == ["attempt", "attempt", "deadline"]
    cas = run_client(make_pipeline(), CLIENT_CASES["cas"][1])
    assert evidence(cas.trace) == ["timeout_attempt", "sqlstate_40001", "ok"]
    assert cas.group.calls == [0, 3, 3]  # three reads, three conditional writes
    assert cas.service.version == 2  # the timed-out write and the last one committed


def test_without_cancel_on_timeout_the_hung_call_keeps_the_worker() -> None:
    """Negative control: the same script with the hung call left running changes the trace."""
    script, service, _ = CLIENT_CASES["mixed"]
    kept = run_client(make_pipeline(), ServiceScript(service.draws, service.service, cancel_on_timeout=False))
    ref = play(run_sync, make_pipeline, script)
    assert evidence(kept.trace)[:3] == ["connection_refused", "timeout_attempt", "timeout_attempt"]
    assert evidence(kept.trace) != evidence(ref.trace)


def test_a_cancelled_write_cannot_conflict() -> None:
    """Negative control: cancelling the timed-out write leaves the version alone; attempt 2 succeeds."""
    _, service, _ = CLIENT_CASES["cas"]
    cancelled = run_client(
        make_pipeline(),
        ServiceScript(service.draws, service.service, "cas", service.workers, cancel_on_timeout=True),
    )
    assert evidence(cancelled.trace) == ["timeout_attempt", "ok"]
    assert cancelled.service.version == 1
