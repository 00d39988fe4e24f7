"""What the execution takes from outside: the breaker's probe hint, delays, and no ambient deadline.

* A breaker refusal carries the seconds until a probe is allowed, on the
  ``GiveUp`` step and on the ``BreakerOpenError`` a driver raises.
* A ``Wait`` never has a negative (or NaN, or infinite) delay.
* ``Pipeline.begin`` reads no context variable: the enclosing
  ``deadline_scope`` reaches an execution only through a driver.
"""

from __future__ import annotations

import math
import pickle
import random

import pytest

from resilience.core import (
    BreakerConfig,
    CircuitBreaker,
    ConstantBackoff,
    Deadline,
    FailureReason,
    GiveUp,
    ManualClock,
    Outcome,
    Pipeline,
    RetryConfig,
    Wait,
    deadline_scope,
)
from resilience.drivers import BreakerOpenError, RequestFailed, SyncDriver

WAIT_IN_OPEN = 5.0


def tripped_at_zero() -> tuple[ManualClock, Pipeline]:
    clock = ManualClock()
    breaker = CircuitBreaker(
        BreakerConfig(window_size=2, minimum_calls=2, wait_in_open=WAIT_IN_OPEN), name="db"
    )
    p = Pipeline(RetryConfig(max_attempts=1), breaker=breaker, rng=random.Random(1))
    for _ in range(2):
        ex = p.begin(0.0)
        ex.next(0.0)
        ex.next(0.0, Outcome.error("connection_refused", retryable=True))
    return clock, p


def test_a_breaker_refusal_says_when_a_probe_is_allowed() -> None:
    _clock, p = tripped_at_zero()
    step = p.begin(2.0).next(2.0)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.BREAKER_OPEN
    assert getattr(step, "retry_after", None) == pytest.approx(WAIT_IN_OPEN - 2.0)


def test_the_open_breaker_error_carries_the_hint() -> None:
    clock, p = tripped_at_zero()
    clock.advance(1.5)
    with pytest.raises(BreakerOpenError) as info:
        SyncDriver(p, clock=clock, sleep=clock.sleep).call(lambda: "ok")
    err = info.value
    assert getattr(err, "retry_after", None) == pytest.approx(WAIT_IN_OPEN - 1.5)
    assert str(err) == "breaker_open after 0 attempt(s); last: nothing; retry after 3.5 s"
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is BreakerOpenError and getattr(copy, "retry_after", None) == pytest.approx(3.5)


def test_other_give_ups_carry_no_hint() -> None:
    clock = ManualClock()
    p = Pipeline(RetryConfig(max_attempts=1), rng=random.Random(1))
    with pytest.raises(RequestFailed) as info:
        SyncDriver(p, clock=clock, sleep=clock.sleep).call(_refused)
    assert info.value.reason is FailureReason.RETRIES_EXHAUSTED
    assert getattr(info.value, "retry_after", "absent") == "absent"


def _refused() -> str:
    raise ConnectionRefusedError


# ---------------------------------------------------------------------------
# Wait


@pytest.mark.parametrize("delay", [-0.5, -1e-9, math.nan, math.inf])
def test_a_wait_never_has_a_negative_or_non_finite_delay(delay: float) -> None:
    with pytest.raises(ValueError, match=r"Wait.delay=.*: must be >= 0 and finite"):
        Wait(delay, "backoff")


def test_zero_is_a_valid_wait() -> None:
    assert Wait(0.0, "retry_after").delay == 0.0


class NegativeBackoff(ConstantBackoff):
    """A user backoff with a bug: it returns a negative delay."""

    kind = ""  # untagged: never replaces ConstantBackoff when configs are read by their ``type``

    def delay(self, retry: int, previous: float, rng: object) -> float:
        return -1.0


def test_a_backoff_returning_a_negative_delay_is_refused() -> None:
    p = Pipeline(RetryConfig(max_attempts=3, backoff=NegativeBackoff(base=0.1)), rng=random.Random(1))
    ex = p.begin(0.0)
    ex.next(0.0)
    with pytest.raises(ValueError, match=r"Wait.delay=-1.0"):
        ex.next(0.1, Outcome.error("connection_refused", retryable=True))


# ---------------------------------------------------------------------------
# no ambient deadline in the core


def test_begin_ignores_the_enclosing_deadline_scope() -> None:
    p = Pipeline(RetryConfig(max_attempts=2), rng=random.Random(1))
    with deadline_scope(Deadline(3.0)):
        ex = p.begin(10.0)
        step = ex.next(10.0)
    assert ex.deadline is None
    assert type(step).__name__ == "Attempt", f"a request begun at 10 s was refused: {step!r}"


def test_begin_with_a_timeout_inside_a_scope_uses_only_its_own() -> None:
    p = Pipeline(RetryConfig(max_attempts=2, timeout=5.0), rng=random.Random(1))
    with deadline_scope(Deadline(1.0)):
        assert p.begin(0.0).deadline == Deadline(5.0)


def test_the_sync_driver_still_applies_the_scope() -> None:
    clock = ManualClock()
    seen: list[float | None] = []

    def fn(timeout: float | None = None) -> str:
        seen.append(timeout)
        return "ok"

    d = SyncDriver(
        Pipeline(RetryConfig(max_attempts=1)), clock=clock, sleep=clock.sleep, pass_timeout="timeout"
    )
    with deadline_scope(Deadline.after(0.0, 2.0)):
        d.call(fn)
    d.call(fn)
    assert seen == [2.0, None]
