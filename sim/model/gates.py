"""A replica's gate: admission before its queue, with the library's admission objects.

``enter`` runs the configured parts in order (connection table, per-IP token
bucket, bulkhead, adaptive concurrency limit) and answers a ticket or the
rejection cause; a later part's refusal undoes what the earlier parts
granted (the refusal is answered on the connection, which then goes idle).
``leave`` settles a ticket exactly once: the connection goes idle, the
bulkhead slot is freed, the adaptive limit is fed the latency.
"""

from __future__ import annotations

from typing import Final

import numpy

from resilience.admission import (
    ADMITTED,
    Bulkhead,
    ConcurrencyLimiter,
    KeyedRateLimiter,
    LimiterToken,
)
from resilience.outcome import Outcome, TimeoutPhase
from sim.model.connections import Connection, ConnectionTable
from sim.scenario.gates import GateConfig

__all__ = ["CAUSES", "GateRT", "GateTicket"]

CONNECTION_REFUSED: Final = "connection_refused"
RATE_LIMITED: Final = "rate_limited"
BULKHEAD_FULL: Final = "bulkhead_full"
CONCURRENCY_LIMITED: Final = "concurrency_limited"
CAUSES = (CONNECTION_REFUSED, RATE_LIMITED, BULKHEAD_FULL, CONCURRENCY_LIMITED)
"""The rejection causes ``GateRT.enter`` can answer, in the order the parts are checked."""

_DROP: Final = Outcome.timeout(TimeoutPhase.ATTEMPT)


class GateTicket:
    """What one admitted request holds; ``delay`` is the handshake still to wait (0 on a reused
    connection or without a connection table)."""

    __slots__ = ("bulkhead", "connection", "delay", "opened", "settled", "token")

    def __init__(
        self,
        connection: Connection | None,
        opened: bool,
        delay: float,
        bulkhead: bool,
        token: LimiterToken | None,
    ) -> None:
        self.connection = connection
        self.opened = opened  # this request opened its connection (it did not reuse a kept-alive one)
        self.delay = delay
        self.bulkhead = bulkhead
        self.token = token
        self.settled = False

    def __repr__(self) -> str:
        return f"GateTicket(delay={self.delay!r}, settled={self.settled})"


class GateRT:
    """Admission at one replica. Counters: ``admitted``, ``left``, ``rejected`` by cause.

    ``attempted_new`` tells whether the last ``enter`` tried to open a new
    connection (opened one, or was refused one), whatever the answer: what a
    tier's flood detector counts. Without a connection table it is the
    request's ``new_connection``.

    The gate draws nothing at random; ``rng`` is taken so that every model
    part is built alike.
    """

    __slots__ = (
        "admitted",
        "attempted_new",
        "bulkhead",
        "config",
        "connections",
        "left",
        "limiter",
        "name",
        "rate_limiter",
        "rejected",
    )

    def __init__(self, cfg: GateConfig, *, name: str, rng: numpy.random.Generator) -> None:
        del rng
        self.config = cfg
        self.name = name
        self.connections = None if cfg.connections is None else ConnectionTable(cfg.connections)
        self.rate_limiter = None if cfg.rate_limit is None else KeyedRateLimiter(cfg.rate_limit, name=name)
        self.bulkhead = None if cfg.bulkhead is None else Bulkhead(cfg.bulkhead, name=name)
        self.limiter = None if cfg.adaptive is None else ConcurrencyLimiter(cfg.adaptive.build(), name=name)
        self.admitted = 0
        self.left = 0
        self.attempted_new = False
        self.rejected: dict[str, int] = dict.fromkeys(CAUSES, 0)

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet left."""
        return self.admitted - self.left

    def enter(self, ip: int, new_connection: bool, now: float) -> GateTicket | str:
        """Admit a request from client ``ip`` (a ticket) or refuse it (its cause, one of ``CAUSES``).

        ``new_connection``: the client opens a fresh connection for this request
        and never reuses it (a flood IP); otherwise it reuses an idle one of its own.
        """
        conn: Connection | None = None
        delay = 0.0
        opened = new_connection  # without a connection table only a flood request is known to open one
        table = self.connections
        if table is not None:
            before = table.opened
            conn = table.acquire(ip, now, reuse=not new_connection)
            if conn is None:  # only a new connection is ever refused
                self.attempted_new = True
                return self._reject(CONNECTION_REFUSED)
            opened = table.opened != before
            if conn.ready_at > now:
                delay = conn.ready_at - now
        self.attempted_new = opened
        if self.rate_limiter is not None and not self.rate_limiter.try_acquire(ip, now):
            return self._undo(RATE_LIMITED, now, conn, False)
        held = False
        if self.bulkhead is not None:
            if self.bulkhead.try_enter(now) is not ADMITTED:
                return self._undo(BULKHEAD_FULL, now, conn, False)
            held = True
        token: LimiterToken | None = None
        if self.limiter is not None:
            token = self.limiter.try_acquire(now)
            if token is None:
                return self._undo(CONCURRENCY_LIMITED, now, conn, held)
        self.admitted += 1
        return GateTicket(conn, opened, delay, held, token)

    def leave(self, ticket: object, now: float, latency: float, ok: bool) -> None:
        """Settle an admitted request: ``latency`` feeds the adaptive limit, a request not ``ok``
        (timed out or shed) counts as a drop there."""
        if not isinstance(ticket, GateTicket):
            raise TypeError(f"GateRT.leave: {ticket!r} is not a GateTicket")
        if ticket.settled:
            raise RuntimeError(f"GateRT.leave: {ticket!r} already left")
        ticket.settled = True
        self.left += 1
        if ticket.token is not None:
            ticket.token.release(now, None if ok else _DROP, rtt=latency)
        if ticket.bulkhead and self.bulkhead is not None:
            self.bulkhead.leave(now)
        if ticket.connection is not None and self.connections is not None:
            self.connections.release(ticket.connection, now)

    def _reject(self, cause: str) -> str:
        self.rejected[cause] += 1
        return cause

    def _undo(self, cause: str, now: float, conn: Connection | None, held: bool) -> str:
        if held and self.bulkhead is not None:
            self.bulkhead.leave(now)
        if conn is not None and self.connections is not None:
            self.connections.release(conn, now)
        return self._reject(cause)
