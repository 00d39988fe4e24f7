"""Where client groups meet the graph: ``Entry`` (the service a group calls: it draws each request's
route and client IP and picks a replica) and ``GraphGroupRT`` (a client group that keeps each
request's ``Trace`` and records client-side timeouts, degraded answers and root-cause triples)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from resilience.outcome import Outcome, OutcomeKind
from resilience.steps import Done, GiveUp
from sim.graph.edge import is_5xx
from sim.graph.tier import TierRT
from sim.graph.visit import Trace, Visit
from sim.model.calls import Op
from sim.model.client import Call, GroupRT, Request
from sim.model.service import REFUSED
from sim.observe.histogram import LogHistogram

__all__ = ["Entry", "GraphGroupRT", "RootCause", "Tracer"]

_bisect_right: Final = bisect.bisect_right  # Final: a C static when compiled

_INF: Final = math.inf
_TIMEOUT: Final = OutcomeKind.TIMEOUT


class RootCause(NamedTuple):
    """The root-cause triple of a request that failed (or was answered degraded) after a timeout:
    ``time``, ``trace_id``, ``source`` (client, gateway, backend) — plus the ``tier`` whose timer
    fired and the ``phase``."""

    time: float
    trace_id: str
    source: str
    tier: str
    phase: str


class Tracer:
    """Trace ids and the root causes of one run."""

    def __init__(self) -> None:
        self.next_tid = 0
        self.root_causes: list[RootCause] = []
        self.client_timeouts: dict[str, int] = {}  # phase -> client-side timeouts (after warm-up)


class GraphGroupRT(GroupRT):
    """A client group in a graph: its requests' traces, client timeouts, degraded answers."""

    tracer: Tracer
    traces: dict[Request, Trace]

    def setup(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.traces = {}
        self.c_degraded_answers: dict[str, int] = {}  # successes answered degraded, by label
        self.clean_good_s = [0] * len(self.good_s)  # non-degraded answers within the SLO, per second
        self.c_clean_latency = LogHistogram()

    def attempt_done(self, c: Call, outcome: Outcome, now: float) -> None:
        if outcome.kind is _TIMEOUT and outcome.evidence == "timeout":  # its own timer, not a 504
            phase = outcome.phase.value if outcome.phase is not None else "attempt"
            if now >= self.warmup:
                t = self.tracer.client_timeouts
                t[phase] = t.get(phase, 0) + 1
            tr = self.traces.get(c.req)
            if tr is not None and tr.first_t < 0.0:
                tr.first_t, tr.first_source, tr.first_tier, tr.first_phase = now, "client", self.name, phase
        GroupRT.attempt_done(self, c, outcome, now)

    def finished(self, req: Request, step: Done | GiveUp, now: float) -> None:
        tr = self.traces.pop(req, None)
        GroupRT.finished(self, req, step, now)
        if tr is None:
            return
        ok = type(step) is Done
        degraded = tr.degraded
        if ok and degraded is None and now - req.t0 <= self.slo:
            self.clean_good_s[int(req.t0)] += 1
        if not req.counted:
            return
        if ok and degraded is not None:
            self.c_degraded_answers[degraded] = self.c_degraded_answers.get(degraded, 0) + 1
        elif ok:
            self.c_clean_latency.add(now - req.t0)
        if tr.first_t >= 0.0 and (not ok or degraded is not None):
            self.tracer.root_causes.append(
                RootCause(tr.first_t, f"{tr.tid:016x}", tr.first_source, tr.first_tier, tr.first_phase)
            )


class Entry:
    """The service a client group calls (the group's ``CallTarget``): each request draws its route
    (by the group's weights) and client IP once; each attempt picks a replica."""

    def __init__(
        self,
        group: GraphGroupRT,
        tier: TierRT,
        routes: dict[str, float],
        ips: int,
        ip_base: int,
        new_connections: bool,
        uniform: Callable[[], float],
        balancer: Any,
        tracer: Tracer,
    ) -> None:
        self.group = group
        self.tier = tier
        weights = routes or {"default": 1.0}
        names = list(weights)
        total = float(sum(weights.values()))
        acc, cum = 0.0, []
        for n in names:
            acc += weights[n] / total
            cum.append(acc)
        self._routes = [tier.routes[n] for n in names]
        self._cum = cum
        self.ips = ips
        self.ip_base = ip_base
        self.new_connections = new_connections
        self.uniform = uniform
        self.balancer = balancer
        self.tracer = tracer
        self.cancel_on_timeout = tier.cancel_on_timeout
        self.live: dict[Call, Visit] = {}  # only with cancel_on_timeout: the visit of a client call

    def _trace(self, req: Request) -> Trace:
        routes = self._routes
        route = (
            routes[0]
            if len(routes) == 1
            else routes[min(_bisect_right(self._cum, self.uniform()), len(routes) - 1)]
        )
        ip = self.ip_base if self.ips == 1 else self.ip_base + int(self.uniform() * self.ips)
        tracer = self.tracer
        tr = Trace(tracer.next_tid, route, ip, self.new_connections)
        tracer.next_tid += 1
        self.group.traces[req] = tr
        return tr

    def arrive(self, c: Any, now: float) -> None:
        """A client attempt reaches the tier: the deadline it carries is its attempt's end (wire ms)."""
        req = c.req
        tr = self.group.traces.get(req)
        if tr is None:
            tr = self._trace(req)
        end = c.deadline
        if end < _INF:
            end = now + math.floor(max(0.0, end - now) * 1000 + 1e-9) / 1000
        bal = self.balancer
        i = 0 if bal is None else bal.pick(now)
        if i < 0:  # nothing to pick: the client's attempt is refused
            c.respond(REFUSED, now)
            return
        if bal is not None:
            bal.started(i)
        v = Visit(self.tier, i, tr.route, end, tr, c.op, now)
        v.client = c
        v.hop = self
        if self.cancel_on_timeout:
            self.live[c] = v
        if c.op == Op.WRITE:
            v.version = c.version
        self.tier.arrive(v, now)

    def client_answered(self, v: Visit, c: Any, code: Any, now: float) -> None:
        """The tier answers the client's attempt ``v``; the answer goes back over the group's link."""
        bal = self.balancer
        if bal is not None:
            bal.ended(v.replica, now, is_5xx(code))
        if self.cancel_on_timeout:
            self.live.pop(c, None)
        if v.op == Op.READ:  # a compare-and-set read: the client's write carries the version read
            c.version = v.version
        if code is None and not c.done and now >= self.tier.warmup:
            self.tier.useful += 1
        if code is None and not c.done:
            self.tier.useful_s[int(now)] += 1
        c.respond(code, now)

    def cancel(self, c: Any) -> None:
        v = self.live.pop(c, None)
        if v is not None:
            self.tier.cancel(v)

    def finish(self, c: Any) -> None:
        """Unused: a replica times the visit's own service, not the client's call."""
