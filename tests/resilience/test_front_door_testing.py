"""Testing mode, shown by behaviour: attempts capped, no real sleep, the test clock advanced."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import resilience
from resilience.core import ExponentialBackoff
from resilience.pytest_plugin import resilience_testing  # noqa: F401  (the fixture)


@contextmanager
def sleeps_called() -> Iterator[list[float]]:
    """Every call of ``time.sleep`` in this thread, seen by the profiler (nothing is patched)."""
    seen: list[float] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call" and arg is time.sleep:
            seen.append(0.0)

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


def always_failing() -> tuple[Callable[[], None], list[int]]:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise OSError("down")

    return fail, calls


def test_testing_mode_caps_attempts_never_sleeps_and_advances_the_test_clock() -> None:
    fail, calls = always_failing()
    wrapped = resilience.retry(on=OSError)(fail)  # the defaults: 10 attempts, 0.1 s .. 5 s full jitter
    mode = resilience.testing.testing_mode(attempts=10, cap=True)
    with mode as clock, sleeps_called() as real, pytest.raises(OSError) as caught:
        wrapped()
    assert "10 attempt(s)" in caught.value.__notes__[0]
    assert len(calls) == 10
    assert real == []
    assert len(clock.sleeps) == 9
    assert clock.now() == pytest.approx(sum(clock.sleeps))
    for n, delay in enumerate(clock.sleeps, 1):  # full jitter under the 0.1 s doubling curve, capped at 5 s
        assert 0.0 <= delay <= min(5.0, 0.1 * 2 ** (n - 1))


def test_the_test_clock_advances_by_the_exact_backoff_sum() -> None:
    fail, calls = always_failing()
    curve = ExponentialBackoff(base=0.1, multiplier=2.0, cap=5.0)  # no jitter: the sum is known
    wrapped = resilience.retry(on=OSError, wait=curve)(fail)
    with resilience.testing.testing_mode(attempts=10) as clock, pytest.raises(OSError):
        wrapped()
    expected = 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 5.0 + 5.0 + 5.0
    assert len(calls) == 10 and clock.now() == pytest.approx(expected)


def test_the_deadline_runs_on_the_test_clock_too() -> None:
    fail, calls = always_failing()
    curve = ExponentialBackoff(base=0.1, multiplier=2.0, cap=5.0)
    wrapped = resilience.retry(on=OSError, wait=curve, timeout=1.0)(fail)  # decorated before testing mode
    with resilience.testing.testing_mode(attempts=10) as clock, pytest.raises(OSError) as caught:
        wrapped()
    # waits 0.1 + 0.2 + 0.4 = 0.7 s; the next (0.8 s) would end after the 1 s deadline
    assert len(calls) == 4 and clock.now() == pytest.approx(0.7)
    assert "deadline reached" in caught.value.__notes__[0]


def test_negative_control_the_profiler_sees_real_sleeps_outside_testing_mode() -> None:
    fail, calls = always_failing()
    wrapped = resilience.retry(on=OSError, attempts=3, wait=0.001)(fail)
    with sleeps_called() as real, pytest.raises(OSError):
        wrapped()
    assert len(calls) == 3 and len(real) == 2


def test_testing_mode_in_asyncio_waits_on_the_test_clock() -> None:
    calls: list[int] = []

    @resilience.retry(on=OSError, wait=30.0, timeout=None)
    async def fail() -> None:
        calls.append(1)
        raise OSError

    with resilience.testing.testing_mode(attempts=4) as clock, pytest.raises(OSError):
        asyncio.run(fail())
    assert len(calls) == 4 and clock.sleeps == [30.0, 30.0, 30.0]


def test_attempts_without_cap_replace_the_configured_number() -> None:
    fail, calls = always_failing()
    with resilience.testing.testing_mode(attempts=2), pytest.raises(OSError):
        resilience.retry(on=OSError, attempts=10)(fail)()
    assert len(calls) == 2
    with resilience.testing.testing_mode(attempts=5, cap=True), pytest.raises(OSError):
        resilience.retry(on=OSError, attempts=3)(fail)()
    assert len(calls) == 2 + 3
    assert not resilience.testing.is_testing()


def test_the_fixture_turns_testing_mode_on_for_one_test(resilience_testing: resilience.ManualClock) -> None:  # noqa: F811
    assert resilience.testing.is_testing()
    assert resilience.testing.testing_clock() is resilience_testing
    fail, calls = always_failing()
    with pytest.raises(OSError):
        resilience.retry(on=OSError, attempts=5)(fail)()
    assert len(calls) == 1  # the fixture's default: one attempt per call


def test_breakers_pick_up_the_testing_clock() -> None:
    with resilience.testing.testing_mode() as clock:
        db = resilience.breaker("testing-db")
        with db.guard():
            clock.advance(3.0)
        breaker = resilience.breaking.default_registry().get("testing-db", clock.now())
        assert breaker.last_used == 3.0  # stamped on the test clock, not the monotonic one
