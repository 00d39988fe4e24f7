"""One script of outcomes through every driver on manual clocks gives identical decision traces."""

from __future__ import annotations

import random

import pytest
from scripted import RUNNERS, Reply, Run, fail, hang, http, ok, play, run_stepwise

from resilience import (
    EventKind,
    ExponentialBackoff,
    FailureReason,
    FullJitter,
    Pipeline,
    RetryConfig,
)
from resilience.drivers import RequestFailed

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


def runs(script: list[Reply], timeout: float = 10.0) -> dict[str, Run]:
    return {name: play(runner, lambda: make_pipeline(timeout), script) for name, runner in RUNNERS.items()}


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
