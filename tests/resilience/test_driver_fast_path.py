"""``SyncDriver.call`` makes the first attempt itself and builds the step loop only when needed.

Every branch of that shortcut must decide, settle and raise exactly as the
step loop (``for attempt in driver.attempts(): with attempt: ...``) does for
the same script: same trace, waits, value or error (type, message, cause),
same calls to the callee, same breaker permits and budget grants issued and
settled (counted by the recording proxies of ``leases.py``), same failed
responses closed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from leases import LeaseLedger, RecordingBreaker, RecordingBudget

from resilience.core import (
    BreakerConfig,
    CircuitBreaker,
    ConstantBackoff,
    ManualClock,
    Outcome,
    Permit,
    Pipeline,
    RetryConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
    TraceEvent,
)
from resilience.drivers import SyncDriver, http_result_classifier


@dataclass
class Closable:
    """An HTTP-like answer that records whether it was closed (equal by status, headers and that)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@dataclass
class Script:
    """The callee: one entry per attempt, an exception to raise or a value to return; each takes 0.1 s."""

    clock: ManualClock
    replies: list[Any]
    timeouts: list[float | None] = field(default_factory=list)
    returned: list[Any] = field(default_factory=list)

    def __call__(self, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        self.clock.advance(0.1)
        reply = self.replies[len(self.timeouts) - 1]
        if isinstance(reply, BaseException):
            raise reply
        self.returned.append(reply)
        return reply


class RaisingRecord(CircuitBreaker):
    """A breaker whose ``record`` fails (a faulty ``BreakerLike``): the request must still be settled."""

    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None:
        super().record(permit, now, duration, outcome)
        raise RuntimeError("record failed")


@dataclass
class Run:
    trace: list[TraceEvent]
    sleeps: list[float]
    value: Any
    error: tuple[type[BaseException], str, type[BaseException] | None] | None
    timeouts: list[float | None]
    closed: list[bool]
    issued: dict[str, int]
    settled: dict[str, int]
    unsettled: dict[str, int]
    bad: list[str]


def via_call(driver: SyncDriver, fn: Script) -> Any:
    return driver.call(fn)


def via_loop(driver: SyncDriver, fn: Script) -> Any:
    for attempt in driver.attempts():
        with attempt:
            attempt.result = fn(attempt.timeout) if driver.pass_timeout else fn()
    return attempt.result


def play(
    form: Callable[[SyncDriver, Script], Any],
    replies: list[Any],
    *,
    breaker_open: bool = False,
    breaker_type: type[CircuitBreaker] = CircuitBreaker,
    unbounded: bool = False,
    **options: Any,
) -> Run:
    clock = ManualClock(100.0)
    ledger = LeaseLedger()
    breaker = breaker_type(BreakerConfig(window_size=10, minimum_calls=10, wait_in_open=30.0))
    if breaker_open:
        breaker.transition_to_open(clock.now())
    budget = TokenBucketBudget(TokenBucketBudgetConfig(capacity=10))
    bounds: dict[str, float] = {} if unbounded else {"timeout": 5.0, "attempt_timeout": 1.0}
    pipeline = Pipeline(
        RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.5), **bounds),  # type: ignore[arg-type]
        breaker=RecordingBreaker(breaker, ledger),
        budget=RecordingBudget(budget, ledger),
        rng=random.Random(7),
    )
    trace: list[TraceEvent] = []
    driver = SyncDriver(pipeline, clock=clock, sleep=clock.sleep, wall=clock, trace=trace, **options)
    script = Script(clock, [r() if callable(r) else r for r in replies])
    value: Any = None
    error = None
    try:
        value = form(driver, script)
    except BaseException as exc:
        cause = exc.__cause__
        error = (type(exc), str(exc), None if cause is None else type(cause))
    return Run(
        trace,
        list(clock.sleeps),
        value,
        error,
        script.timeouts,
        [r.closed for r in script.replies if isinstance(r, Closable)],
        dict(ledger.issued),
        dict(ledger.settled),
        dict(ledger.unsettled()),
        list(ledger.bad),
    )


HTTP: dict[str, Any] = {"classify_result": http_result_classifier()}
CASES: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "success": (["ok"], {}),
    "success-passing-the-timeout": (["ok"], {"pass_timeout": "timeout"}),
    "success-passing-no-bound": (["ok"], {"pass_timeout": "timeout", "unbounded": True}),
    "refused-then-success": ([ConnectionRefusedError("down"), "ok"], {}),
    "exhausted": ([ConnectionRefusedError("a"), ConnectionResetError("b"), ConnectionRefusedError("c")], {}),
    "permanent-error": ([ValueError("bad input")], {}),
    "interrupted": ([KeyboardInterrupt()], {}),
    "breaker-open-before-any-attempt": (["ok"], {"breaker_open": True}),
    "raising-record-on-success": (["ok"], {"breaker_type": RaisingRecord}),
    "classified-success": ([lambda: Closable(200)], HTTP),
    "classified-failure-then-success": ([lambda: Closable(503), lambda: Closable(200)], HTTP),
    "classified-failures-exhausted": ([lambda: Closable(503) for _ in range(3)], HTTP),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_call_decides_and_settles_exactly_as_the_step_loop(case: str) -> None:
    replies, options = CASES[case]
    fast, loop = play(via_call, replies, **options), play(via_loop, replies, **options)
    assert fast == loop
    assert loop.unsettled == {} and loop.bad == []


def test_the_cases_reach_each_branch_of_the_shortcut() -> None:
    """The parity above means something only if the runs differ in what the shortcut branches on."""
    ok = play(via_call, ["ok"])
    assert ok.value == "ok" and ok.error is None and ok.issued == {"permit": 1}
    assert ok.settled == {"permit:record": 1} and ok.timeouts == [None]
    passed = play(via_call, ["ok"], pass_timeout="timeout")
    assert passed.timeouts == [pytest.approx(1.0)]  # the attempt bound, nearer than the 5 s deadline
    assert play(via_call, ["ok"], pass_timeout="timeout", unbounded=True).timeouts == [None]
    refused = play(via_call, ["ok"], breaker_open=True)
    assert refused.timeouts == [] and refused.error is not None and refused.issued == {}
    retried = play(via_call, [ConnectionRefusedError("down"), "ok"])
    assert retried.value == "ok" and retried.sleeps == [0.5]
    assert retried.settled == {"permit:record": 2, "grant:ran": 1}
    broken = play(via_call, ["ok"], breaker_type=RaisingRecord)
    assert broken.error == (RuntimeError, "record failed", None)
    assert broken.trace[-1].label == "cancelled"  # the request was settled as cancelled
    interrupted = play(via_call, [KeyboardInterrupt()])
    assert interrupted.error is not None and interrupted.error[0] is KeyboardInterrupt
    assert interrupted.settled == {"permit:release": 1}
    classified = play(via_call, [lambda: Closable(503), lambda: Closable(200)], **HTTP)
    assert classified.closed == [True, False] and classified.value.status == 200
    exhausted = play(via_call, [lambda: Closable(503) for _ in range(3)], **HTTP)
    assert exhausted.closed == [True, True, False]  # the last one is handed back on the error
