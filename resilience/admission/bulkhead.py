"""A bulkhead: at most ``max_concurrent`` calls inside, a bounded FIFO waiting room.

The core is sans-I/O: ``try_enter(now)`` answers ``ADMITTED``, ``Queued(ticket)``
or ``Rejected(cause)``; a queued caller asks ``poll(ticket, now)`` until it is
admitted or its ticket expires (``max_wait_time``, cause ``queue_timeout``);
``leave(now)`` frees a slot and hands it straight to the oldest live ticket
(FIFO, no barging). :class:`SyncBulkhead` waits on a ``threading.Condition``;
:class:`AsyncBulkhead` wakes each waiter through its own future.
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field

from .._config import Config, non_negative, rule
from ..clock import Clock
from ..metrics.counters import CounterSink, LabelCounts
from ..switches import DefaultClock, current
from .rejection import Rejected, RejectionCause, rejection_error

__all__ = [
    "ADMITTED",
    "Admitted",
    "AsyncBulkhead",
    "Bulkhead",
    "BulkheadConfig",
    "Queued",
    "SyncBulkhead",
    "Ticket",
    "TicketState",
]

REJECTIONS = "resilience_admission_rejections_total"


@dataclass(frozen=True, slots=True)
class BulkheadConfig(Config):
    """Bulkhead limits. ``max_waiting=0`` rejects at once when every slot is busy."""

    max_concurrent: int = field(default=10, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    max_waiting: int = field(default=0, metadata=rule(lambda v: v >= 0, "must be >= 0"))
    max_wait_time: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))

    def _cross_checks(self) -> None:
        if self.max_waiting > 0 and self.max_wait_time == 0:
            raise self._error("max_wait_time", "must be > 0 when max_waiting > 0")


class Admitted:
    """The caller holds a slot and must ``leave`` when done."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ADMITTED"


ADMITTED = Admitted()
"""The answer to a ``try_enter`` that got a slot at once."""


class TicketState(enum.Enum):
    """Where a queued ticket stands: waiting, admitted, expired or cancelled."""

    WAITING = "waiting"
    ADMITTED = "admitted"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Ticket:
    """A place in the waiting room, valid until ``deadline``."""

    __slots__ = ("deadline", "state")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.state = TicketState.WAITING

    def __repr__(self) -> str:
        return f"Ticket(deadline={self.deadline!r}, state={self.state.value})"


class Queued:
    """The caller waits with ``ticket``; ask again with ``poll``."""

    __slots__ = ("ticket",)

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket

    def __repr__(self) -> str:
        return f"Queued({self.ticket!r})"


Decision = Admitted | Queued | Rejected


class Bulkhead:
    """The shared, thread-safe bulkhead state; rejections counted by cause in ``rejections``."""

    __slots__ = ("_in_flight", "_lock", "_queue", "admitted_total", "config", "name", "rejections")

    def __init__(
        self, config: BulkheadConfig | None = None, *, name: str = "default", sink: CounterSink | None = None
    ):
        self.config = config or BulkheadConfig()
        self.name = name
        self.rejections = LabelCounts(REJECTIONS, "cause", name, sink)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._queue: deque[Ticket] = deque()
        self.admitted_total = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def try_enter(self, now: float) -> Decision:
        """Enter now, take a ticket for the waiting room, or be refused (``bulkhead_full``)."""
        with self._lock:
            self._expire(now)
            if self._in_flight < self.config.max_concurrent and not self._queue:
                self._in_flight += 1
                self.admitted_total += 1
                return ADMITTED
            if len(self._queue) < self.config.max_waiting:
                ticket = Ticket(now + self.config.max_wait_time)
                self._queue.append(ticket)
                return Queued(ticket)
        self.rejections.inc(RejectionCause.BULKHEAD_FULL.value)
        return Rejected(RejectionCause.BULKHEAD_FULL)

    def poll(self, ticket: Ticket, now: float) -> Decision:
        """A waiting caller asks again: admitted, still queued, or timed out (``queue_timeout``)."""
        with self._lock:
            state = ticket.state
            if state is TicketState.ADMITTED:
                return ADMITTED
            if state is TicketState.WAITING:
                if now < ticket.deadline:
                    return Queued(ticket)
                self._queue.remove(ticket)
                ticket.state = TicketState.EXPIRED
            elif state is TicketState.CANCELLED:
                raise RuntimeError("Bulkhead.poll: the ticket was cancelled")
            else:
                return Rejected(RejectionCause.QUEUE_TIMEOUT)  # expired earlier, already counted
        self.rejections.inc(RejectionCause.QUEUE_TIMEOUT.value)
        return Rejected(RejectionCause.QUEUE_TIMEOUT)

    def leave(self, now: float) -> Ticket | None:
        """Free a slot; the oldest live ticket gets it (returned, so a driver can wake it)."""
        with self._lock:
            if self._in_flight <= 0:
                raise RuntimeError("Bulkhead.leave: no call is inside")
            self._expire(now)
            if self._queue:
                ticket = self._queue.popleft()
                ticket.state = TicketState.ADMITTED
                self.admitted_total += 1
                return ticket
            self._in_flight -= 1
            return None

    def cancel(self, ticket: Ticket, now: float) -> Ticket | None:
        """A waiter gives up; a slot already handed to it passes on (see ``leave``)."""
        with self._lock:
            if ticket.state is TicketState.WAITING:
                self._queue.remove(ticket)
                ticket.state = TicketState.CANCELLED
                return None
            handed = ticket.state is TicketState.ADMITTED
            ticket.state = TicketState.CANCELLED
        return self.leave(now) if handed else None

    def _expire(self, now: float) -> None:
        queue = self._queue
        expired = 0
        while queue and queue[0].deadline <= now:
            queue.popleft().state = TicketState.EXPIRED
            expired += 1
        for _ in range(expired):
            self.rejections.inc(RejectionCause.QUEUE_TIMEOUT.value)


class SyncBulkhead:
    """Thread driver: ``with bh.slot(): ...`` waits on a Condition; raises ``AdmissionRejected``."""

    __slots__ = ("_cond", "bulkhead", "clock")

    def __init__(self, bulkhead: Bulkhead, clock: Clock | None = None) -> None:
        self.bulkhead = bulkhead
        self.clock: Clock = clock or DefaultClock()  # testing mode's clock while it is on
        self._cond = threading.Condition()

    def acquire(self) -> None:
        core, clock = self.bulkhead, self.clock
        with self._cond:
            decision = core.try_enter(clock.now())
            while isinstance(decision, Queued):
                ticket = decision.ticket
                try:
                    remaining = ticket.deadline - clock.now()
                    if remaining > 0:
                        self._cond.wait(remaining)
                except BaseException:
                    if core.cancel(ticket, clock.now()) is not None:
                        self._cond.notify_all()
                    raise
                decision = core.poll(ticket, clock.now())
            if isinstance(decision, Rejected):
                raise rejection_error(decision.cause, core.name)

    def release(self) -> None:
        with self._cond:
            if self.bulkhead.leave(self.clock.now()) is not None:
                self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


class _LoopClock:
    """The running loop's clock, or testing mode's clock while it is on."""

    __slots__ = ()

    def now(self) -> float:
        testing = current().clock
        return testing.now() if testing is not None else asyncio.get_running_loop().time()


class AsyncBulkhead:
    """Asyncio driver: ``async with bh.slot(): ...``; cancellation gives the place up.

    Each queued caller waits on its own future; ``release`` is synchronous (as
    ``asyncio.Semaphore.release``), so no cancellation can stop it half-way.
    """

    __slots__ = ("_waiters", "bulkhead", "clock")

    def __init__(self, bulkhead: Bulkhead, clock: Clock | None = None) -> None:
        self.bulkhead = bulkhead
        self.clock: Clock = clock or _LoopClock()
        self._waiters: dict[Ticket, asyncio.Future[None]] = {}

    async def acquire(self) -> None:
        core, clock = self.bulkhead, self.clock
        decision = core.try_enter(clock.now())
        if isinstance(decision, Queued):
            ticket = decision.ticket
            woken = asyncio.get_running_loop().create_future()
            self._waiters[ticket] = woken
            try:
                while isinstance(decision, Queued):
                    remaining = ticket.deadline - clock.now()
                    if remaining > 0 and not woken.done():
                        with suppress(TimeoutError):
                            async with asyncio.timeout(remaining):
                                await asyncio.shield(woken)
                    decision = core.poll(ticket, clock.now())
            except BaseException:
                self._wake(core.cancel(ticket, clock.now()))
                raise
            finally:
                self._waiters.pop(ticket, None)
        if isinstance(decision, Rejected):
            raise rejection_error(decision.cause, core.name)

    def release(self) -> None:
        """Free the slot, or hand it to the oldest waiter and wake that waiter."""
        self._wake(self.bulkhead.leave(self.clock.now()))

    def _wake(self, ticket: Ticket | None) -> None:
        woken = None if ticket is None else self._waiters.get(ticket)
        if woken is not None and not woken.done():
            woken.set_result(None)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()
