"""A service tier at run time: its replicas (``ServiceRT`` each), their gates and caches, its routes,
and the counters of its per-tier results.

A request at a replica goes: gate → the replica's queue and workers → its own service time → the
route's steps (each a fan-out of edge calls joined by the step's mode) → the answer. The worker is
held while the steps run (thread per request). Work whose deadline has passed is not started: at
dequeue the replica answers 504 at once (``deadline_expired``), and before each step the tier does.
"""

from __future__ import annotations

import math
from typing import Any, Final

import simpy

from resilience.outcome import TimeoutPhase
from sim.graph.visit import DONE, ON_CONNECTED, ON_SERVED, ON_STATIC, Visit, schedule
from sim.model.calls import Stage
from sim.model.gates import GateRT
from sim.model.service import QUEUE_FULL, REFUSED, ServiceRT
from sim.observe.histogram import LogHistogram
from sim.scenario.spec import ErrorSpec, Service

__all__ = ["DEADLINE_SPEC", "FAILED_SPEC", "ReplicaRT", "RouteRT", "TierRT"]

_INF: Final = math.inf
_SERVING: Final = Stage.SERVING
_SERVED: Final = Stage.SERVED
_CANCELLED: Final = Stage.CANCELLED
_DEADLINE: Final = TimeoutPhase.DEADLINE.value
DEADLINE_SPEC: Final = ErrorSpec(probability=1.0, status=504)  # the deadline passed before the work was done
FAILED_SPEC: Final = ErrorSpec(probability=1.0, status=503)  # a step failed downstream
GATE_CODES: dict[str, Any] = {
    "connection_refused": REFUSED,
    "rate_limited": ErrorSpec(probability=1.0, status=429),
    "bulkhead_full": QUEUE_FULL,
    "concurrency_limited": QUEUE_FULL,
}


class RouteRT:
    """A route of a tier: its steps as (edge names, successes needed), its own timeout and tag."""

    __slots__ = ("name", "steps", "tag", "timeout")

    def __init__(
        self, name: str, steps: list[tuple[tuple[str, ...], int]], timeout: float | None, tag: str | None
    ):
        self.name = name
        self.steps = steps
        self.timeout = _INF if timeout is None else timeout
        self.tag = tag


class ReplicaRT(ServiceRT):
    """One replica: a ``ServiceRT`` that answers 504 instead of starting work whose deadline passed
    (with ``serve_expired``, it starts it anyway: late work)."""

    def __init__(self, tier: TierRT, index: int, cfg: Service, service_gen: Any, error_gen: Any) -> None:
        name = tier.name if cfg.replicas == 1 else f"{tier.name}#{index}"
        super().__init__(tier.env, name, cfg, service_gen, error_gen, tier.warmup)
        self.tier = tier
        self.index = index
        self.deadline_expired = self.c_deadline_expired = 0
        self.extra = 0.0  # seconds added to every service time (a latency spike's ``add``)
        self._base_sample = self.sample
        self.serve_expired = cfg.serve_expired

    def add_latency(self, seconds: float) -> None:
        """Add ``seconds`` (negative: remove them) to every service time started from now on."""
        self.extra = max(0.0, self.extra + seconds)
        base = self._base_sample
        if self.extra == 0.0:
            self.sample = base
        else:
            extra = self.extra
            self.sample = lambda: base() + extra

    def _start(self, c: Any, now: float) -> None:
        if c.budget_end <= now and not self.serve_expired:
            c.stage = _CANCELLED
            self.deadline_expired += 1
            if c.svc_arrival >= self.warmup:
                self.c_deadline_expired += 1
                self.tier.spent(c, now - c.svc_arrival)  # it waited in the tier
            self.tier.timed_out(c, now, _DEADLINE)
            c.respond(DEADLINE_SPEC, now)
            return
        # ``ServiceRT._start``, with the visit as its own timer event (no Timeout, no bound method)
        self.busy += 1
        self.serving.add(c)
        c.svc_start = now
        c.stage = _SERVING
        t = self.sample()
        if self.factor != 1.0:
            t *= self.factor
        if self.loaded:
            t = self._under_load(t)
        schedule(self.env, t, c, ON_SERVED)


class TierRT:
    """A service with its replicas; ``arrive(visit, now)`` takes a request to the visit's replica."""

    def __init__(
        self,
        env: simpy.Environment,
        warmup: float,
        name: str,
        cfg: Service,
        role: str,
        gens: Any,
        horizon: float = 0.0,
    ) -> None:
        """``gens(replica, purpose)``: the numpy generator of a replica's random stream; ``horizon``:
        the run's length (per-second series cover it)."""
        self.env = env
        self.name = name
        self.cfg = cfg
        self.role = role  # the timeout source of this tier's timers: "gateway" or "backend"
        self.warmup = warmup
        self.cancel_on_timeout = cfg.cancel_on_timeout
        self.replicas = [
            ReplicaRT(self, i, cfg, gens(i, "service"), gens(i, "errors")) for i in range(cfg.replicas)
        ]
        self.gates: list[GateRT | None] = [None] * cfg.replicas
        self.caches: list[Any] = [None] * cfg.replicas
        self.ledger: Any = None  # a SideEffectLedger: the tier's work has a side effect
        self.routes: dict[str, RouteRT] = {}
        for rname, r in cfg.routes.items():
            steps = [(tuple(s.calls), s.needed()) for s in r.steps]
            self.routes[rname] = RouteRT(rname, steps, r.timeout, r.tag)
        if not self.routes:
            self.routes["default"] = RouteRT("default", [], None, None)
        self.registry: Any = None  # a resilience TimeoutRegistry when a route has a tag
        self.detector: Any = None  # a FloodDetector: flagged IPs' new connections take ``flood_route``
        self.flood_route = None if cfg.flood_route is None else self.routes[cfg.flood_route]
        self.flagged = 0
        self.flood: Any = None  # a defences.FloodDiversion: flagged IPs answered by the static cluster
        self.watch: dict[str, Any] = {}  # route -> a defences.TimeoutTuner seeing its latencies
        self.diverting: set[Visit] = set()  # diverted by ``flood``, answer pending
        self.diverted = self.c_diverted = 0
        self.edges: list[dict[str, Any]] = [{} for _ in range(cfg.replicas)]  # per replica: EdgeRT by name
        self.connecting: set[Visit] = set()  # admitted, still in the connection handshake
        # counters: all, and c_ (arrived at the tier after warm-up)
        self.arrivals = self.c_arrivals = 0
        self.rejected: dict[str, int] = {}
        self.c_rejected: dict[str, int] = {}
        self.answered_ok = self.answered_error = self.degraded = 0
        self.fallbacks: dict[str, int] = {}
        self.fallbacks_all: dict[str, int] = {}  # label -> every fallback (the tier series' counter)
        self.timeouts: dict[str, int] = {}  # phase -> timeouts fired at this tier (after warm-up)
        self.expired_steps = 0  # requests whose deadline passed before a step (after warm-up)
        self.completed = self.useful = 0  # answers after service / those used by their caller (counted)
        self.in_tier = LogHistogram()  # own time incl. queueing, downstream excluded (counted)
        n = math.ceil(horizon) + 2
        self.offered_s = [0] * n  # per second (all events): attempts reaching the tier
        self.useful_s = [0] * n  # … successful answers used by their caller
        self.series: dict[str, list[int]] = {"ok": [0] * n, "errors": [0] * n, "completed": [0] * n}
        self._ok_s, self._errors_s, self._completed_s = (
            self.series["ok"],
            self.series["errors"],
            self.series["completed"],
        )
        # … and rejected_<cause>, timeouts_<phase>, fallbacks, flood_diverted as they happen
        self._n = n
        self.in_tier_sum = 0.0
        self.windows: list[tuple[float, float, LogHistogram]] = []  # (start, end, time in tier by arrival)

    def route_timeout(self, route: RouteRT) -> float:
        """The tier's own bound for ``route`` now (the registry's value for a tagged route)."""
        if route.tag is not None and self.registry is not None:
            return float(self.registry.timeout_for(tag=route.tag))
        return route.timeout

    # -- arrival -------------------------------------------------------------------------------
    def arrive(self, v: Visit, now: float) -> None:
        """``v`` reaches replica ``v.replica``: through its gate (if any) into its queue."""
        self.arrivals += 1
        self.offered_s[int(now)] += 1
        if now >= self.warmup:
            self.c_arrivals += 1
        v.arrived = now
        det = self.detector
        if det is not None and v.new_connection and det.observe(v.ip, now):
            self._divert(v, now)
            return
        flood = self.flood
        if flood is not None and flood.divert(v.ip, v.new_connection, now):
            self._static(v, now)
            return
        bound = v.route.timeout
        if bound < _INF:  # the tier's own bound for the route can only shorten the deadline
            end = now + self.route_timeout(v.route)
            if end < v.budget_end:
                v.budget_end = end
        gate = self.gates[v.replica]
        if gate is not None:
            ticket = gate.enter(v.ip, v.new_connection, now)
            if flood is not None and (
                ticket == "connection_refused"
                or v.new_connection
                or (not isinstance(ticket, str) and ticket.delay > 0)
            ):
                flood.opened(v.ip, now)
            if isinstance(ticket, str):
                self.rejected[ticket] = self.rejected.get(ticket, 0) + 1
                self.count(f"rejected_{ticket}", now)
                if now >= self.warmup:
                    self.c_rejected[ticket] = self.c_rejected.get(ticket, 0) + 1
                v.stage = _CANCELLED
                v.respond(GATE_CODES[ticket], now)
                return
            v.ticket = ticket
            if ticket.delay > 0.0:  # a new connection: its handshake first
                self.connecting.add(v)
                schedule(self.env, ticket.delay, v, ON_CONNECTED)
                return
        elif flood is not None and v.new_connection:
            flood.opened(v.ip, now)
        v.rep.arrive(v, now)

    def _static(self, v: Visit, now: float) -> None:
        """The flood diversion's static-page cluster answers ``v`` (degraded) after its answer time."""
        cfg = self.flood.config
        self.diverted += 1
        if now >= self.warmup:
            self.c_diverted += 1
        self.diverting.add(v)
        self.count("flood_diverted", now)
        self.fallback_used(v, cfg.label, now)
        schedule(self.env, cfg.answer_time, v, ON_STATIC)

    def static_answered(self, v: Visit) -> None:
        if v in self.diverting:
            self.diverting.discard(v)
            v.respond(None, self.env.now)

    def _divert(self, v: Visit, now: float) -> None:
        """A flagged IP's request: served by the flood route (degraded), past the gate."""
        route = self.flood_route
        assert route is not None
        self.flagged += 1
        v.route = route
        self.count("flood_diverted", now)
        self.fallback_used(v, f"{self.name}:{route.name}", now)
        v.rep.arrive(v, now)

    def connected(self, v: Visit) -> None:
        """The handshake of ``v``'s new connection is over: it enters the replica."""
        if v in self.connecting:
            self.connecting.discard(v)
            v.rep.arrive(v, self.env.now)

    def leave_gate(self, v: Visit, now: float, ok: bool) -> None:
        ticket = v.ticket
        if ticket is not None and not ticket.settled:
            gate = self.gates[v.replica]
            assert gate is not None
            gate.leave(ticket, now, now - v.arrived, ok)

    def cancel(self, v: Visit) -> None:
        """The caller gave up on ``v`` (``cancel_on_timeout``): free its place; its steps stop."""
        now = self.env.now
        if v in self.connecting:
            self.connecting.discard(v)
        else:
            v.rep.cancel(v)
        v.step = DONE
        self.leave_gate(v, now, False)

    # -- serving -------------------------------------------------------------------------------
    def own_time_over(self, v: Visit) -> None:
        """The replica's own service time for ``v`` is over: cache, then the route's steps."""
        now = self.env.now
        if v.svc_arrival >= self.warmup:
            if self.windows:
                self.spent(v, now - v.svc_arrival)
            else:  # ``spent``, inlined
                seconds = now - v.svc_arrival
                self.in_tier.add(seconds)
                self.in_tier_sum += seconds
        if v.error is not None or v.stage != _SERVING:
            v.rep.finish(v)
            return
        if self.ledger is not None and v.trace is not None:  # the effect happens as the own work ends
            self.ledger.record(v.trace.tid, now, keyed=v.keyed)
        cache = self.caches[v.replica]
        if cache is not None:
            key = cache.request_key(v.trace) if cache.by_request else cache.draw_key()
            if cache.lookup(key, now) == "hit":
                v.rep.finish(v)
                return
            v.key = key
        if not v.route.steps:
            if cache is not None:
                cache.fill(v.key, now)
            v.rep.finish(v)
            return
        v.step = -1
        self.next_step(v, now)

    def next_step(self, v: Visit, now: float) -> None:
        """Start ``v``'s next step, or answer when none is left."""
        if v.stage != _SERVING:  # the caller cancelled it: stop here
            v.step = DONE
            return
        steps = v.route.steps
        i = v.step + 1
        if i == len(steps):
            v.step = DONE
            if v.key >= 0:
                self.caches[v.replica].fill(v.key, now)
            v.rep.finish(v)
            return
        if now >= v.budget_end:
            if now >= self.warmup:
                self.expired_steps += 1
            self.timed_out(v, now, _DEADLINE)
            self.fail(v, DEADLINE_SPEC, now)
            return
        v.step = i
        v.ok = v.failed = 0
        edges = self.edges[v.replica]
        for name in steps[i][0]:
            edges[name].call(v, i, now)

    def hop_done(self, v: Visit, gen: int, ok: bool, deadline: bool, now: float) -> None:
        """A call of step ``gen`` of ``v`` ended; join it by the step's mode."""
        if v.step != gen:  # the step was decided already (or the request is over): not used
            return
        names, need = v.route.steps[gen]
        if ok:
            v.ok += 1
            if v.ok >= need:
                self.next_step(v, now)
        else:
            v.failed += 1
            if v.failed > len(names) - need:
                v.step = DONE
                self.fail(v, DEADLINE_SPEC if deadline else FAILED_SPEC, now)

    def fail(self, v: Visit, spec: ErrorSpec, now: float) -> None:
        """``v``'s route failed: a stale cache entry answers (degraded) if there is one, else ``spec``."""
        v.step = DONE
        if v.key >= 0 and self.caches[v.replica].stale_fallback(v.key, now):
            label = f"{self.name}:stale"
            self.fallback_used(v, label, now)
        else:
            v.error = spec
        v.rep.finish(v)

    def fallback_used(self, v: Visit, label: str, now: float) -> None:
        self.count("fallbacks", now)
        self.fallbacks_all[label] = self.fallbacks_all.get(label, 0) + 1
        if now >= self.warmup:
            self.fallbacks[label] = self.fallbacks.get(label, 0) + 1
        tr = v.trace
        if tr is not None and tr.degraded is None:
            tr.degraded = label

    def timed_out(self, v: Visit, now: float, phase: str) -> None:
        """A timer of this tier fired for ``v``'s request (or its deadline was found passed)."""
        self.count(f"timeouts_{phase}", now)
        if now >= self.warmup:
            self.timeouts[phase] = self.timeouts.get(phase, 0) + 1
        tr = v.trace
        if tr is not None and tr.first_t < 0.0:
            tr.first_t = now
            tr.first_source = self.role
            tr.first_tier = self.name
            tr.first_phase = phase

    def answered(self, v: Visit, code: Any, now: float) -> None:
        """``v`` leaves the tier with ``code`` (None: success)."""
        if v.ticket is not None:
            self.leave_gate(v, now, code is None)
        sec = int(now)
        if code is None:
            self._ok_s[sec] += 1
        else:
            self._errors_s[sec] += 1
        if self.watch:
            tuner = self.watch.get(v.route.name)
            if tuner is not None:
                tuner.observe(now, now - v.arrived)
        if v.stage == _SERVED:
            self._completed_s[sec] += 1
        if now >= self.warmup:
            if code is None:
                self.answered_ok += 1
                if v.trace is not None and v.trace.degraded is not None:
                    self.degraded += 1
            else:
                self.answered_error += 1
            if v.stage == _SERVED:  # answered after its service (not shed, refused or expired)
                self.completed += 1

    def spent(self, v: Visit, seconds: float) -> None:
        """``v`` spent ``seconds`` in the tier (queueing and own time; downstream excluded)."""
        self.in_tier.add(seconds)
        self.in_tier_sum += seconds
        for start, end, hist in self.windows:
            if start <= v.svc_arrival < end:
                hist.add(seconds)

    def count(self, key: str, now: float) -> None:
        """One more ``key`` in the per-second series at ``now``."""
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = [0] * self._n
        s[int(now)] += 1

    # -- state ---------------------------------------------------------------------------------
    def in_flight(self, since: float = -_INF) -> int:
        """Requests held by the tier now (handshake, queue, worker), counted from live state."""
        held = sum(1 for v in self.connecting if v.arrived >= since)
        held += sum(1 for v in self.diverting if v.arrived >= since)
        return held + sum(r.in_flight(since) for r in self.replicas)
