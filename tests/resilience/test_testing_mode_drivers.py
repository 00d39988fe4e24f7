"""Testing mode reaches the drivers and the admission gates: their default clock and sleep."""

from __future__ import annotations

import asyncio
import time

import pytest

from resilience import testing
from resilience.admission.bulkhead import AsyncBulkhead, Bulkhead, BulkheadConfig, SyncBulkhead
from resilience.backoff import ConstantBackoff
from resilience.core import Pipeline, RetryConfig
from resilience.drivers import AsyncDriver, SyncDriver

WAIT = 100.0  # a real sleep of this length would trip the test's timeout


def flaky(failures: int) -> object:
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ConnectionError("refused")
        return "ok"

    return fn


def pipeline() -> Pipeline:
    return Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=WAIT)))


def test_a_sync_driver_built_before_testing_mode_waits_on_its_clock() -> None:
    driver = SyncDriver(pipeline())  # no clock, no sleep given
    with testing.testing_mode() as clock:
        started = time.monotonic()
        assert driver.call(flaky(2)) == "ok"  # type: ignore[arg-type]
        assert clock.sleeps == [WAIT, WAIT]  # the waits advanced the manual clock ...
        assert clock.now() == 2 * WAIT
        assert time.monotonic() - started < WAIT  # ... instead of sleeping
    assert driver.clock.now() == pytest.approx(time.monotonic(), abs=1.0)  # monotonic again after


def test_an_async_driver_waits_on_the_testing_clock() -> None:
    driver = AsyncDriver(pipeline())

    async def fn_async(fn: object) -> str:
        return fn()  # type: ignore[operator, no-any-return]

    with testing.testing_mode() as clock:
        fn = flaky(1)
        assert asyncio.run(driver.call(fn_async, fn)) == "ok"
        assert clock.sleeps == [WAIT]
        assert clock.now() == WAIT


def test_the_bulkhead_gates_read_the_testing_clock() -> None:
    core = Bulkhead(BulkheadConfig(max_concurrent=1))
    sync_gate, async_gate = SyncBulkhead(core), AsyncBulkhead(core)
    with testing.testing_mode() as clock:
        clock.advance(1234.5)
        assert sync_gate.clock.now() == 1234.5
        assert async_gate.clock.now() == 1234.5
    assert sync_gate.clock.now() == pytest.approx(time.monotonic(), abs=1.0)
