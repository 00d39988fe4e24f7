"""An interrupted execution leaves its key pending: the side effect may have happened.

``KeyboardInterrupt``, ``SystemExit`` and cancellation raised inside the function,
sync and asyncio, must not let a retry run the function again before ``pending_ttl``;
``release_on_error`` forgets the key for ordinary exceptions only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from resilience.clock import ManualClock
from resilience.idempotency import (
    IdempotencyConfig,
    IdempotencyInProgress,
    IdempotencyStore,
    KeyState,
    ReplayedFailure,
    async_idempotent_call,
    idempotent_call,
)

INTERRUPTIONS = [KeyboardInterrupt, SystemExit, asyncio.CancelledError]
PENDING_TTL = 30.0


def _retry(store: IdempotencyStore, clock: ManualClock, charges: list[float]) -> str:
    """A duplicate request: runs the charge again if the store lets it."""

    def charge_again() -> str:
        charges.append(clock.now())
        return "receipt"

    try:
        return idempotent_call(store, "pay-1", charge_again, clock=clock)
    except IdempotencyInProgress:
        return "in progress"


@pytest.mark.parametrize("release_on_error", [False, True])
@pytest.mark.parametrize("interruption", INTERRUPTIONS)
def test_an_interruption_after_the_side_effect_keeps_the_key_pending_until_pending_ttl(
    interruption: type[BaseException], release_on_error: bool
) -> None:
    store = IdempotencyStore(IdempotencyConfig(ttl=3600.0, pending_ttl=PENDING_TTL))
    clock = ManualClock()
    charges: list[float] = []

    def charge_then_interrupted() -> str:
        charges.append(clock.now())  # the card is charged ...
        raise interruption()  # ... and then the process is interrupted

    with pytest.raises(interruption):
        idempotent_call(
            store, "pay-1", charge_then_interrupted, clock=clock, release_on_error=release_on_error
        )

    clock.advance(1.0)
    answer = _retry(store, clock, charges)
    assert charges == [0.0], "a retry ran the side effect a second time"
    assert answer == "in progress"
    record = store.get("pay-1", clock.now())
    assert record is not None and record.state is KeyState.PENDING

    clock.advance(PENDING_TTL - 1.0 - 1e-6)
    assert _retry(store, clock, charges) == "in progress"
    clock.advance(1e-6)  # pending_ttl after the claim: presumed abandoned
    assert _retry(store, clock, charges) == "receipt"
    assert charges == [0.0, PENDING_TTL]


def _run_async(store: IdempotencyStore, clock: ManualClock, fn: Callable[[], object]) -> str:
    """``async_idempotent_call`` on ``fn`` (a coroutine function); the name of what it raised."""

    async def main() -> str:
        try:
            await async_idempotent_call(store, "pay-1", fn, clock=clock)  # type: ignore[arg-type]
        except BaseException as exc:  # the interruption is what the test inspects
            return type(exc).__name__
        return "returned"

    return asyncio.run(main())


@pytest.mark.parametrize("interruption", INTERRUPTIONS)
def test_async_interruption_raised_inside_the_function_keeps_the_key_pending(
    interruption: type[BaseException],
) -> None:
    store = IdempotencyStore(IdempotencyConfig(ttl=3600.0, pending_ttl=PENDING_TTL))
    clock = ManualClock()
    charges: list[float] = []

    async def charge_then_interrupted() -> str:
        charges.append(clock.now())
        await asyncio.sleep(0)
        raise interruption()

    assert _run_async(store, clock, charge_then_interrupted) == interruption.__name__
    clock.advance(1.0)
    answer = _retry(store, clock, charges)
    assert charges == [0.0], "a retry ran the side effect a second time"
    assert answer == "in progress"


def test_a_cancelled_async_call_keeps_the_key_pending() -> None:
    store = IdempotencyStore(IdempotencyConfig(ttl=3600.0, pending_ttl=PENDING_TTL))
    clock = ManualClock()
    charges: list[float] = []
    sent = asyncio.Event()

    async def charge() -> str:
        charges.append(clock.now())
        sent.set()
        await asyncio.Event().wait()  # the reply never comes
        return "receipt"

    async def main() -> None:
        task = asyncio.create_task(async_idempotent_call(store, "pay-1", charge, clock=clock))
        await sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    answer = _retry(store, clock, charges)
    assert charges == [0.0], "a retry ran the side effect a second time"
    assert answer == "in progress"


@pytest.mark.parametrize("release_on_error", [True, False])
def test_release_on_error_still_forgets_the_key_after_an_ordinary_exception(release_on_error: bool) -> None:
    """The control: an ``Exception`` is released with ``release_on_error``, stored without."""
    store, clock, charges = IdempotencyStore(), ManualClock(), []

    def declined() -> str:
        charges.append(clock.now())
        raise ValueError("card declined")

    with pytest.raises(ValueError):
        idempotent_call(store, "pay-1", declined, clock=clock, release_on_error=release_on_error)
    if release_on_error:
        assert _retry(store, clock, charges) == "receipt"
        assert len(charges) == 2
    else:
        with pytest.raises(ReplayedFailure):
            _retry(store, clock, charges)
        assert len(charges) == 1


def test_the_default_pending_ttl_frees_an_interrupted_key_within_minutes() -> None:
    """With the default config an interrupted key neither runs twice at once nor blocks for a day."""
    store, clock, charges = IdempotencyStore(), ManualClock(), []

    def charge_then_interrupted() -> str:
        charges.append(clock.now())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        idempotent_call(store, "pay-1", charge_then_interrupted, clock=clock)
    assert _retry(store, clock, charges) == "in progress"
    clock.advance(600.0)
    assert _retry(store, clock, charges) == "receipt"
    assert charges == [0.0, 600.0]
