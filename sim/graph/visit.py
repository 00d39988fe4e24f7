"""One request at a tier (``Visit``) and the state its whole tree shares (``Trace``)."""

from __future__ import annotations

import math
from typing import Any, Final

from sim.graph.expiry import clear
from sim.model.calls import Op, Stage
from sim.model.clock import push
from sim.model.links import LOST

__all__ = [
    "DONE",
    "ON_CONNECTED",
    "ON_RECEIVED",
    "ON_SERVED",
    "ON_STATIC",
    "ON_TRAVELLED",
    "Trace",
    "Visit",
    "schedule",
]

DONE: Final = 1 << 30  # ``Visit.step`` once the route is decided: late answers of its calls are not used
_INF: Final = math.inf
_READ: Final = Op.READ
_WRITE: Final = Op.WRITE
_TRAVELLING: Final = Stage.TRAVELLING


class Trace:
    """What a client request's whole call tree shares: its trace id, route and client IP, the first
    timeout that fired in it (time, source, tier, phase) and the label of a degraded answer."""

    __slots__ = (
        "degraded",
        "first_phase",
        "first_source",
        "first_t",
        "first_tier",
        "ip",
        "new_connection",
        "route",
        "tid",
    )

    def __init__(self, tid: int, route: Any, ip: int, new_connection: bool) -> None:
        self.tid = tid
        self.route = route
        self.ip = ip
        self.new_connection = new_connection
        self.first_t = -1.0
        self.first_source = ""
        self.first_tier = ""
        self.first_phase = ""
        self.degraded: str | None = None


class Visit:
    """One attempt's request at a tier: the call a replica queues and serves (``ServiceCall``), the
    state of its route's steps, and, for an edge's attempt, the caller's side of the call.

    ``client`` is the client group's call when the attempt comes from a client, else ``hop`` is the
    edge request that sent it (the answer travels back over the edge's link).
    """

    __slots__ = (
        "answer",
        "arrived",
        "budget_end",
        "callbacks",
        "client",
        "deadline",
        "done",
        "error",
        "failed",
        "hop",
        "ip",
        "key",
        "keyed",
        "new_connection",
        "ok",
        "op",
        "phase",
        "rep",
        "replica",
        "route",
        "sent",
        "stage",
        "step",
        "svc_arrival",
        "svc_start",
        "ticket",
        "tier",
        "timer",
        "trace",
        "version",
    )

    _ok = True  # a visit is its own SimPy event while it waits for one thing (``schedule``)
    callbacks: Any  # set by ``schedule``: what SimPy calls when the visit is processed

    def __init__(
        self, tier: Any, replica: int, route: Any, budget_end: float, trace: Trace | None, op: Op, now: float
    ) -> None:
        self.tier = tier
        self.replica = replica
        self.rep = tier.replicas[replica]
        self.route = route
        self.budget_end = budget_end  # the deadline this tier works under (propagated, reserve taken)
        self.trace = trace
        self.op = op
        self.stage = _TRAVELLING
        self.error: Any = None
        self.answer: Any = None
        self.version = -1
        self.svc_arrival = self.svc_start = -1.0
        self.deadline = _INF  # read by queue policies; the propagated deadline is checked instead
        self.arrived = now
        self.sent = now
        self.step = DONE
        self.ok = self.failed = 0
        self.key = -1
        self.keyed = False  # sent with an idempotency key
        self.ticket: Any = None
        self.client: Any = None
        self.hop: Any = None
        self.done = False
        self.timer: list[Any] | None = None  # the caller's attempt timer (``sim.graph.expiry``)
        self.phase: Any = None
        if trace is None:
            self.ip, self.new_connection = 0, False
        else:
            self.ip, self.new_connection = trace.ip, trace.new_connection

    # -- server side ---------------------------------------------------------------------------
    def served(self, _ev: object) -> None:
        """The replica's own service time is over (a timer callback)."""
        self.tier.own_time_over(self)

    def static_answer(self, _ev: object) -> None:
        """The flood diversion's static page is ready (a timer callback)."""
        self.tier.static_answered(self)

    def connected(self, _ev: object) -> None:
        """The connection handshake is over (a timer callback)."""
        self.tier.connected(self)

    def respond(self, code: Any, now: float) -> None:
        """The tier answers at ``now`` (``code`` None for success, else the evidence)."""
        tier = self.tier
        tier.answered(self, code, now)
        client = self.client
        if client is not None:  # ``hop`` is then the client group's ``Entry``
            self.hop.client_answered(self, client, code, now)
            return
        if self.done:
            return
        self.answer = code
        link = self.hop.edge.link
        if link is None:
            self.receive(now)
            return
        d = link.delay()
        if d == LOST:
            return
        if d == 0.0:
            self.receive(now)
        else:
            schedule(tier.env, d, self, ON_RECEIVED)

    # -- caller side (an edge's attempt) -------------------------------------------------------
    def travelled(self, _ev: object) -> None:
        """The attempt reaches the tier after its link delay (a timer callback)."""
        self.tier.arrive(self, self.tier.env.now)

    def _received(self, _ev: object) -> None:
        self.receive(self.tier.env.now)

    def receive(self, now: float) -> None:
        """The answer reaches the caller: a compare-and-set read goes on to its write, or the attempt ends."""
        if self.done:
            return
        edge = self.hop.edge
        if self.op == _READ and self.answer is None:
            self.op = _WRITE
            self.stage = _TRAVELLING
            self.error = None
            self.ticket = None
            self.step = DONE
            edge.transmit(self, now)
            return
        self.done = True
        clear(self.timer)  # the timer no longer keeps the finished attempt alive
        edge.answered(self, now)

    def timed_out(self, _ev: object) -> None:
        """The attempt's timer fired (a timer callback)."""
        if self.done:
            return
        self.done = True
        self.hop.edge.expired(self, self.tier.env.now)


def _served(v: Visit) -> None:
    v.tier.own_time_over(v)


def _travelled(v: Visit) -> None:
    v.tier.arrive(v, v.tier.env.now)


def _connected(v: Visit) -> None:
    v.tier.connected(v)


def _static(v: Visit) -> None:
    v.tier.static_answered(v)


def _received(v: Visit) -> None:
    v.receive(v.tier.env.now)


# what a visit does when it is processed as an event (``callbacks``): SimPy calls each with the visit
ON_SERVED: Final = (_served,)  # the replica's own service time for it is over
ON_TRAVELLED: Final = (_travelled,)  # it reaches its tier after the link delay
ON_CONNECTED: Final = (_connected,)  # its connection's handshake is over
ON_STATIC: Final = (_static,)  # the flood diversion's static page is ready
ON_RECEIVED: Final = (_received,)  # its answer reaches the caller after the link delay


def schedule(env: Any, delay: float, v: Visit, callbacks: Any) -> None:
    """Process ``v`` as an event ``delay`` seconds from now (in the order ``env.timeout`` would):
    a visit waits for one thing at a time (travel, handshake, static page, the answer's travel)."""
    v.callbacks = callbacks
    push(env, delay, v)
