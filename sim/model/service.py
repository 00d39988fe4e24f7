"""Services at run time: workers, a bounded FIFO/LIFO queue with an optional queue policy (drop expired
work, CoDel, adaptive LIFO), service times, errors, a CAS row."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final

import simpy

from sim.model.calls import Op, Stage
from sim.model.clock import later
from sim.model.ports import ServiceCall
from sim.model.queueing import CoDelState
from sim.model.streams import BlockRandom, fast
from sim.scenario.spec import ErrorSpec, Service

__all__ = ["CONFLICT", "QUEUE_FULL", "REFUSED", "ServiceRT"]

QUEUE_FULL: Final = "queue_full"
REFUSED: Final = "refused"
CONFLICT: Final = "conflict"
_INF: Final = math.inf
_WRITE: Final = Op.WRITE
_QUEUED: Final = Stage.QUEUED
_SERVING: Final = Stage.SERVING
_SERVED: Final = Stage.SERVED
_CANCELLED: Final = Stage.CANCELLED
_REFUSE_SPEC: Final = ErrorSpec(probability=1.0, refuse=True)


class ServiceRT:
    """One service. A call arrives with ``arrive(call, now)`` and is answered by ``call.respond(code, now)``.

    ``code`` is None for success, or the evidence: an ``ErrorSpec``, ``QUEUE_FULL``,
    ``REFUSED`` or ``CONFLICT`` (the client's classifier turns it into an outcome).
    """

    def __init__(
        self, env: simpy.Environment, name: str, cfg: Service, service_gen: Any, error_gen: Any, warmup: float
    ) -> None:
        self.env = env
        self.name = name
        self.cfg = cfg
        self.workers = _INF if cfg.workers == 0 else float(cfg.workers)
        self.capacity = self.workers
        self.qcap = _INF if cfg.queue < 0 else cfg.queue
        if cfg.workers == 0:
            self.qcap = 0
        self.lifo = cfg.discipline == "lifo"
        policy = cfg.queue_policy
        self.policy = policy if policy is not None and policy.active else None
        self.drop_expired = policy is not None and policy.drop_expired
        self.codel: CoDelState[ServiceCall] | None = None
        if policy is not None and policy.codel is not None:
            self.codel = CoDelState(policy.codel.target, policy.codel.interval)
        self.lifo_after = _INF  # adaptive LIFO: newest first once the queue has been non-empty this long
        if policy is not None and policy.adaptive_lifo is not None:
            self.lifo_after = policy.adaptive_lifo.interval
        self.nonempty_since = 0.0  # when the queue last went from empty to non-empty
        self.cancel_on_timeout = cfg.cancel_on_timeout
        self.sample = fast(cfg.service_time.sampler(service_gen))
        self.errors = cfg.errors
        self.err_u = BlockRandom(lambda n: error_gen.random(n)).random
        ll = cfg.load_latency
        self.load_per = 0.0 if ll is None else ll.per_in_flight
        self.load_threshold = 0 if ll is None else ll.threshold
        self.load_mode = None if ll is None else ll.multiplier
        self.load_factor = 0.0 if ll is None else ll.factor
        self.load_exponent = 2.0 if ll is None else ll.exponent
        self.loaded = bool(self.load_per) or self.load_mode is not None  # off: one test on the hot path
        self.queue: deque[ServiceCall] = deque()
        self.queued = 0  # live (not cancelled) calls in the queue
        self.serving: set[ServiceCall] = set()  # calls holding a worker
        self.busy = 0
        self.version = 0  # the compare-and-set row
        # faults
        self.outages = 0
        self.factor = 1.0
        self.drops: list[int] = []
        self.bursts: list[ErrorSpec] = []
        # time integrals (for utilisation and Little's law) and counters
        self.warmup = warmup
        self._t = 0.0
        self.area_busy = 0.0
        self.area_queue = 0.0
        self._w_busy = self._w_queue = 0.0
        self.arrivals = self.served = self.queue_full = self.refused = self.errors_sent = 0
        self.fast_errors = self.cancelled = 0
        # queue policy drops, also counted in their fate: expired in ``cancelled``, CoDel in ``queue_full``
        self.expired = self.codel_dropped = 0
        # after warm-up (by arrival at the service)
        self.c_arrivals = self.c_served = self.c_queue_full = self.c_refused = 0
        self.c_fast_errors = self.c_cancelled = 0
        self.c_expired = self.c_codel_dropped = 0
        self.c_waited = 0  # served calls (arrived after warm-up) that waited for a worker
        self.c_sojourn = 0.0
        self.c_wait = 0.0

    # -- time integrals -------------------------------------------------------------
    def _acc(self, now: float) -> None:
        dt = now - self._t
        if dt:
            self.area_busy += self.busy * dt
            self.area_queue += self.queued * dt
            self._t = now

    def mark_warmup(self, _ev: object = None) -> None:
        """Start the post-warm-up time integrals here."""
        self._acc(self.env.now)
        self._w_busy, self._w_queue = self.area_busy, self.area_queue

    @property
    def c_area_busy(self) -> float:
        return self.area_busy - self._w_busy

    @property
    def c_area_queue(self) -> float:
        return self.area_queue - self._w_queue

    def in_system(self) -> int:
        return self.busy + self.queued

    def in_flight(self, since: float = -_INF) -> int:
        """Calls now holding a worker or a queue place that arrived at or after ``since``.

        Counted from the calls themselves (the worker set and the queue), not
        derived from the counters, so the accounting identity can check them.
        """
        held = sum(1 for c in self.serving if c.svc_arrival >= since)
        return held + sum(1 for c in self.queue if c.stage == _QUEUED and c.svc_arrival >= since)

    # -- the call path ----------------------------------------------------------------
    def arrive(self, c: ServiceCall, now: float) -> None:
        self.arrivals += 1
        counted = now >= self.warmup
        if counted:
            self.c_arrivals += 1
        c.svc_arrival = now
        if self.outages:
            self.refused += 1
            if counted:
                self.c_refused += 1
            c.respond(REFUSED, now)
            return
        errors = self.errors
        if errors or self.bursts:
            spec = self._draw_error()
            if spec is not None and (spec.refuse or spec.fast):
                if spec.refuse:
                    self.refused += 1
                    if counted:
                        self.c_refused += 1
                else:
                    self.fast_errors += 1
                    if counted:
                        self.c_fast_errors += 1
                self.errors_sent += 1
                c.respond(REFUSED if spec.refuse else spec, now)
                return
            c.error = spec
        if self.busy < self.capacity:
            dt = now - self._t  # self._acc(now), inlined on the hot path
            if dt:
                self.area_busy += self.busy * dt
                self.area_queue += self.queued * dt
                self._t = now
            self._start(c, now)
        elif self.queued < self.qcap:
            self._acc(now)
            if not self.queued:
                self.nonempty_since = now
            c.stage = _QUEUED
            self.queue.append(c)
            self.queued += 1
        else:
            self.queue_full += 1
            if counted:
                self.c_queue_full += 1
            c.respond(QUEUE_FULL, now)

    def _draw_error(self) -> ErrorSpec | None:
        u = self.err_u()
        for spec in self.bursts:
            if u < spec.probability:
                return spec
            u = self.err_u()
        for spec in self.errors:
            if u < spec.probability:
                return spec
            u -= spec.probability
        return None

    def _start(self, c: ServiceCall, now: float) -> None:
        self.busy += 1
        self.serving.add(c)
        c.svc_start = now
        c.stage = _SERVING
        t = self.sample()
        if self.factor != 1.0:
            t *= self.factor
        if self.loaded:
            t = self._under_load(t)
        later(self.env, t, c.served)

    def _under_load(self, t: float) -> float:
        """Service time ``t`` under ``load_latency``: the multiplier of the busy-worker fraction (the
        starting call included, over the capacity in force), then the seconds per call above the threshold."""
        mode = self.load_mode
        if mode is not None:
            u = self.busy / self.capacity  # 0.0 with unlimited workers
            k = self.load_factor
            if mode == "exponential":
                t *= math.exp(k * u)
            elif mode == "polynomial":
                t *= 1.0 + k * u**self.load_exponent
            else:
                t *= 1.0 + k * u
        if self.load_per:
            over = self.busy + self.queued - self.load_threshold
            if over > 0:
                t += self.load_per * over
        return t

    def finish(self, c: ServiceCall) -> None:
        """The call's service time is over (ignored if it was cancelled)."""
        if c.stage != _SERVING:
            return
        now = self.env.now
        dt = now - self._t  # self._acc(now), inlined on the hot path
        if dt:
            self.area_busy += self.busy * dt
            self.area_queue += self.queued * dt
            self._t = now
        self.busy -= 1
        self.serving.discard(c)
        c.stage = _SERVED
        self.served += 1
        if c.svc_arrival >= self.warmup:
            self.c_served += 1
            self.c_sojourn += now - c.svc_arrival
            wait = c.svc_start - c.svc_arrival
            self.c_wait += wait
            if wait > 0.0:
                self.c_waited += 1
        if self.queue:
            self._pull(now)
        spec = c.error
        if spec is not None:
            self.errors_sent += 1
            c.respond(spec, now)
        elif c.op == _WRITE:
            if c.version == self.version:
                self.version += 1
                c.respond(None, now)
            else:
                c.respond(CONFLICT, now)
        else:
            c.version = self.version
            c.respond(None, now)

    def _pull(self, now: float) -> None:
        if self.policy is not None:
            self._pull_policy(now)
            return
        q = self.queue
        while self.busy < self.capacity and q:
            c = q.pop() if self.lifo else q.popleft()
            if c.stage != _QUEUED:
                continue
            self.queued -= 1
            self._start(c, now)

    # -- queue policies ----------------------------------------------------------------
    def _pull_policy(self, now: float) -> None:
        """``_pull`` under a queue policy: expired calls and CoDel's drops leave unserved."""
        codel = self.codel
        dropped: list[ServiceCall] = []
        while self.busy < self.capacity:
            if codel is None:
                got = self._pop(now)
                c = None if got is None else got[0]
            else:
                c = codel.dequeue(now, lambda: self._pop(now), dropped.append)
            if c is None:
                break
            self._start(c, now)
        for c in dropped:  # answered after the loop: a caller's retry may arrive here at once
            self._drop_codel(c, now)

    def _pop(self, now: float) -> tuple[ServiceCall, float, bool] | None:
        """The next live call by the order in force, dropping expired ones on the way; with the time it
        waited and whether the queue is empty behind it."""
        q = self.queue
        lifo = self.lifo or now - self.nonempty_since >= self.lifo_after
        while q:
            c = q.pop() if lifo else q.popleft()
            if c.stage != _QUEUED:
                continue
            self.queued -= 1
            if self.drop_expired and c.deadline <= now:  # its caller has given up: drop it unanswered
                c.stage = _CANCELLED
                counted = c.svc_arrival >= self.warmup
                self.expired += 1
                self.cancelled += 1
                if counted:
                    self.c_expired += 1
                    self.c_cancelled += 1
                continue
            return c, now - c.svc_arrival, self.queued == 0
        return None

    def _drop_codel(self, c: ServiceCall, now: float) -> None:
        """CoDel dropped ``c``: answer 503 at once, as a full queue would."""
        c.stage = _CANCELLED
        self.codel_dropped += 1
        self.queue_full += 1
        if c.svc_arrival >= self.warmup:
            self.c_codel_dropped += 1
            self.c_queue_full += 1
        c.respond(QUEUE_FULL, now)

    def cancel(self, c: ServiceCall) -> None:
        """The caller gave up on ``c``: free its place (``cancel_on_timeout``)."""
        stage = c.stage
        if stage != _QUEUED and stage != _SERVING:
            return
        now = self.env.now
        self._acc(now)
        c.stage = _CANCELLED
        self.cancelled += 1
        if c.svc_arrival >= self.warmup:
            self.c_cancelled += 1
        if stage == _SERVING:
            self.busy -= 1
            self.serving.discard(c)
            self._pull(now)
        else:
            self.queued -= 1

    # -- faults -------------------------------------------------------------------------
    def set_capacity(self) -> None:
        now = self.env.now
        self._acc(now)
        self.capacity = min([self.workers, *self.drops])
        self._pull(now)
