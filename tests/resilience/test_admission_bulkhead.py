"""Bulkhead: the sans-I/O core on a manual clock, properties, and the thread/asyncio waiting helpers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.admission import (
    ADMITTED,
    AdmissionRejected,
    AsyncBulkhead,
    Bulkhead,
    BulkheadConfig,
    Queued,
    Rejected,
    RejectionCause,
    SyncBulkhead,
    TicketState,
)
from resilience.clock import ManualClock

FULL = Rejected(RejectionCause.BULKHEAD_FULL)
TIMED_OUT = Rejected(RejectionCause.QUEUE_TIMEOUT)


def test_admits_up_to_max_concurrent_then_rejects_without_waiting_room() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=2))
    assert bh.try_enter(0.0) is ADMITTED
    assert bh.try_enter(0.0) is ADMITTED
    assert bh.try_enter(0.0) == FULL
    assert bh.in_flight == 2
    assert bh.rejections.snapshot() == {"bulkhead_full": 1}
    bh.leave(1.0)
    assert bh.try_enter(1.0) is ADMITTED


def test_waiting_room_is_fifo_and_a_freed_slot_goes_to_the_oldest_ticket() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=2, max_wait_time=5.0))
    assert bh.try_enter(0.0) is ADMITTED
    first, second = bh.try_enter(0.1), bh.try_enter(0.2)
    assert isinstance(first, Queued) and isinstance(second, Queued)
    assert bh.try_enter(0.3) == FULL  # room holds 2
    assert isinstance(bh.poll(first.ticket, 1.0), Queued)
    handed = bh.leave(1.0)
    assert handed is first.ticket and first.ticket.state is TicketState.ADMITTED
    assert bh.in_flight == 1  # the slot passed on, not freed
    assert bh.poll(first.ticket, 1.0) is ADMITTED
    assert isinstance(bh.poll(second.ticket, 1.0), Queued)
    assert bh.try_enter(1.0) != ADMITTED  # no barging past the waiting ticket


def test_ticket_expires_after_max_wait_time_and_is_counted_once() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=1, max_wait_time=0.5))
    bh.try_enter(0.0)
    queued = bh.try_enter(0.0)
    assert isinstance(queued, Queued)
    assert isinstance(bh.poll(queued.ticket, 0.49), Queued)
    assert bh.poll(queued.ticket, 0.5) == TIMED_OUT
    assert bh.poll(queued.ticket, 0.6) == TIMED_OUT
    assert bh.rejections.snapshot() == {"queue_timeout": 1}
    assert bh.waiting == 0


def test_expired_tickets_are_purged_by_other_calls_and_never_get_a_slot() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=1, max_wait_time=0.5))
    bh.try_enter(0.0)
    queued = bh.try_enter(0.0)
    assert isinstance(queued, Queued)
    assert bh.leave(2.0) is None  # the ticket expired at 0.5: the slot is freed, not handed over
    assert bh.in_flight == 0
    assert bh.poll(queued.ticket, 2.0) == TIMED_OUT
    assert bh.rejections["queue_timeout"] == 1


def test_cancel_gives_up_the_place_or_passes_on_a_slot_already_handed_over() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=2, max_wait_time=5.0))
    bh.try_enter(0.0)
    a, b = bh.try_enter(0.0), bh.try_enter(0.0)
    assert isinstance(a, Queued) and isinstance(b, Queued)
    bh.leave(1.0)  # handed to a
    assert bh.cancel(a.ticket, 1.0) is b.ticket  # a never used it: b gets it
    assert bh.poll(b.ticket, 1.0) is ADMITTED
    with pytest.raises(RuntimeError, match="cancelled"):
        bh.poll(a.ticket, 1.0)


def test_leave_without_a_call_inside_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no call is inside"):
        Bulkhead().leave(0.0)


def test_rejections_reach_the_catalog_counter_sink() -> None:
    calls: list[tuple[str, dict[str, str], float]] = []

    class Sink:
        def inc(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
            calls.append((name, dict(labels), amount))

    bh = Bulkhead(BulkheadConfig(max_concurrent=1), name="db", sink=Sink())
    bh.try_enter(0.0)
    bh.try_enter(0.0)
    assert calls == [("resilience_admission_rejections_total", {"name": "db", "cause": "bulkhead_full"}, 1.0)]


ops = st.lists(
    st.tuples(st.sampled_from(["enter", "leave", "poll", "cancel"]), st.floats(0, 0.3), st.integers(0, 50)),
    max_size=120,
)


@settings(max_examples=100, deadline=None)
@given(
    max_concurrent=st.integers(1, 4),
    max_waiting=st.integers(0, 4),
    wait=st.floats(0.05, 1.0),
    script=ops,
)
def test_property_bounds_and_conservation(
    max_concurrent: int, max_waiting: int, wait: float, script: list[tuple[str, float, int]]
) -> None:
    """In-flight ≤ max_concurrent, waiting ≤ max_waiting, and admitted - left == in_flight, always."""
    bh = Bulkhead(BulkheadConfig(max_concurrent, max_waiting, wait if max_waiting else 0.0))
    clock = ManualClock()
    inside = 0  # callers holding a slot (by our own bookkeeping)
    tickets = []
    left = 0
    for op, dt, pick in script:
        clock.advance(dt)
        now = clock.now()
        if op == "enter":
            d = bh.try_enter(now)
            if d is ADMITTED:
                inside += 1
            elif isinstance(d, Queued):
                tickets.append(d.ticket)
        elif op == "leave" and inside:
            bh.leave(now)
            inside -= 1
            left += 1
        elif op in ("poll", "cancel") and tickets:
            t = tickets.pop(pick % len(tickets))
            if op == "cancel":
                if t.state is TicketState.ADMITTED:
                    left += 1  # a handed-over slot given back unused
                bh.cancel(t, now)
            else:
                d = bh.poll(t, now)
                if d is ADMITTED:
                    inside += 1
                elif isinstance(d, Queued):
                    tickets.append(t)
        assert 0 <= bh.in_flight <= max_concurrent
        assert bh.waiting <= max_waiting
        # every handed-over ticket not yet polled also holds a slot
        handed = sum(1 for t in tickets if t.state is TicketState.ADMITTED)
        assert bh.in_flight == inside + handed
        assert bh.admitted_total - left == bh.in_flight


def _until(predicate: object, limit: float = 5.0) -> None:
    """Spin until ``predicate()`` holds (synchronisation with another thread, bounded)."""
    pause = threading.Event()
    for _ in range(int(limit / 0.001)):
        if predicate():  # type: ignore[operator]
            return
        pause.wait(0.001)
    raise AssertionError("condition not reached")


def test_sync_helper_wakes_a_waiter_when_a_slot_frees() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=1, max_wait_time=30.0))
    gate = SyncBulkhead(bh)
    gate.acquire()
    entered = threading.Event()

    def waiter() -> None:
        with gate.slot():
            entered.set()

    t = threading.Thread(target=waiter)
    t.start()
    _until(lambda: bh.waiting == 1)
    assert not entered.is_set()
    gate.release()
    t.join(10)
    assert entered.is_set() and not t.is_alive()
    assert bh.in_flight == 0 and bh.rejections.total() == 0


def test_sync_helper_raises_queue_timeout_and_bulkhead_full() -> None:
    bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=1, max_wait_time=0.05), name="pay")
    gate = SyncBulkhead(bh)
    gate.acquire()
    with pytest.raises(AdmissionRejected) as info:
        gate.acquire()
    assert info.value.cause is RejectionCause.QUEUE_TIMEOUT
    assert str(info.value) == "pay: admission refused (queue_timeout)"
    bh2 = Bulkhead(BulkheadConfig(max_concurrent=1))
    gate2 = SyncBulkhead(bh2)
    gate2.acquire()
    with pytest.raises(AdmissionRejected) as info2:
        gate2.acquire()
    assert info2.value.cause is RejectionCause.BULKHEAD_FULL


def test_async_helper_queues_admits_and_cancels() -> None:
    async def main() -> None:
        bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=2, max_wait_time=30.0))
        gate = AsyncBulkhead(bh)
        await gate.acquire()
        order: list[str] = []

        async def user(name: str) -> None:
            async with gate.slot():
                order.append(name)

        a = asyncio.create_task(user("a"))
        b = asyncio.create_task(user("b"))
        while bh.waiting < 2:
            await asyncio.sleep(0)
        a.cancel()  # a gives its place up
        with pytest.raises(asyncio.CancelledError):
            await a
        assert bh.waiting == 1
        gate.release()
        await asyncio.wait_for(b, 10)
        assert order == ["b"] and bh.in_flight == 0

        short = AsyncBulkhead(Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=1, max_wait_time=0.02)))
        await short.acquire()
        with pytest.raises(AdmissionRejected) as info:
            await short.acquire()
        assert info.value.cause is RejectionCause.QUEUE_TIMEOUT

    asyncio.run(main())


class _ReleaseThatAwaits(AsyncBulkhead):
    """The defect re-created: the slot is freed only after an await, so a cancel there leaks it."""

    __slots__ = ()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            await asyncio.sleep(0)
            self.release()


async def _slots_left_after_a_cancelled_release(kind: type[AsyncBulkhead], steps: int) -> int:
    """Two users hold both slots, a third waits; the first leaves and hands its slot on while
    the second is cancelled again and again on its way out. Slots still taken at the end."""
    bh = Bulkhead(BulkheadConfig(max_concurrent=2, max_waiting=1, max_wait_time=30.0))
    gate = kind(bh)
    first_done, never, at_once = asyncio.Event(), asyncio.Event(), asyncio.Event()
    at_once.set()

    async def user(done: asyncio.Event) -> None:
        async with gate.slot():
            await done.wait()

    first, second = asyncio.create_task(user(first_done)), asyncio.create_task(user(never))
    while bh.in_flight < 2:
        await asyncio.sleep(0)
    waiter = asyncio.create_task(user(at_once))
    while bh.waiting < 1:
        await asyncio.sleep(0)
    first_done.set()  # its release hands the slot to the waiter and wakes it
    for _ in range(steps):
        await asyncio.sleep(0)
    while not second.done():  # e.g. a task group shutting down cancels more than once
        second.cancel()
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(first, waiter), 10)
    return bh.in_flight


@pytest.mark.parametrize("steps", range(6))
def test_a_cancelled_release_never_leaks_a_slot(steps: int) -> None:
    assert asyncio.run(_slots_left_after_a_cancelled_release(AsyncBulkhead, steps)) == 0


def test_the_leak_check_catches_a_release_that_can_be_cancelled_half_way() -> None:
    """The negative control: a release that awaits before freeing leaks a slot in this scenario."""
    leaked = [asyncio.run(_slots_left_after_a_cancelled_release(_ReleaseThatAwaits, s)) for s in range(6)]
    assert max(leaked) == 1


def test_async_release_wakes_waiters_in_fifo_order_and_needs_no_await() -> None:
    async def main() -> list[str]:
        bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=3, max_wait_time=30.0))
        gate = AsyncBulkhead(bh)
        await gate.acquire()
        order: list[str] = []

        async def user(name: str) -> None:
            async with gate.slot():
                order.append(name)
                await asyncio.sleep(0)

        tasks = []
        for name in "abc":
            tasks.append(asyncio.create_task(user(name)))
            while bh.waiting < len(tasks):
                await asyncio.sleep(0)
        gate.release()  # synchronous: nothing to await, so nothing to cancel half-way
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert bh.in_flight == 0 and bh.waiting == 0
        return order

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_a_waiter_cancelled_after_its_slot_was_handed_over_passes_it_on() -> None:
    async def main() -> None:
        bh = Bulkhead(BulkheadConfig(max_concurrent=1, max_waiting=2, max_wait_time=30.0))
        gate = AsyncBulkhead(bh)
        await gate.acquire()
        order: list[str] = []

        async def user(name: str) -> None:
            async with gate.slot():
                order.append(name)

        a = asyncio.create_task(user("a"))
        while bh.waiting < 1:
            await asyncio.sleep(0)
        b = asyncio.create_task(user("b"))
        while bh.waiting < 2:
            await asyncio.sleep(0)
        gate.release()  # hands the slot to a ...
        a.cancel()  # ... which is cancelled before it runs: b must get the slot
        with pytest.raises(asyncio.CancelledError):
            await a
        await asyncio.wait_for(b, 10)
        assert order == ["b"] and bh.in_flight == 0 and bh.waiting == 0

    asyncio.run(main())
