"""Edges at run time: one caller replica's calls of one kind, each a real ``Pipeline`` execution
driven by callbacks (``HopRequest``); every attempt picks a replica of the target with the caller's
balancer and carries the deadline the wire form would (``resilience.timeouts.propagation``)."""

from __future__ import annotations

import math
from typing import Any, Final

import simpy

from resilience.classify import Classifier
from resilience.deadline import Deadline
from resilience.execution import Execution
from resilience.outcome import SUCCESS, FailureReason, Outcome, OutcomeKind, TimeoutPhase
from resilience.pipeline import Pipeline
from resilience.steps import Attempt, Done, GiveUp, Wait
from sim.graph.expiry import Expiry
from sim.graph.tier import RouteRT, TierRT
from sim.graph.visit import ON_TRAVELLED, Visit, schedule
from sim.model.balancers import BalancerRT
from sim.model.calls import Op
from sim.model.driver import CallbackRequest
from sim.model.links import LOST, LinkRT
from sim.model.service import CONFLICT, QUEUE_FULL, REFUSED
from sim.scenario.spec import ErrorSpec

__all__ = ["EdgeRT", "EdgeStats", "HopRequest", "is_5xx", "outcome_of"]

# Final: the compiled build keeps these in C statics, not the module's dict (a lookup per use)
_INF: Final = math.inf
_floor: Final = math.floor
_DEADLINE_EXCEEDED: Final = FailureReason.DEADLINE_EXCEEDED
_TIMEOUT: Final = OutcomeKind.TIMEOUT
NO_UPSTREAM: Final = ErrorSpec(probability=1.0, status=503)  # no replica left to pick
_TIMEOUTS: Final = {p: Outcome.timeout(p) for p in TimeoutPhase}


def outcome_of(classifier: Classifier, cache: dict[Any, Outcome], code: Any) -> Outcome:
    """The classifier's verdict on an answer's evidence (as ``GroupRT.outcome_of``), cached per kind."""
    if code is None:
        return SUCCESS
    out = cache.get(code)
    if out is None:
        if code == QUEUE_FULL:
            base = classifier.http(503)
            out = Outcome(base.kind, base.retryable, "queue_full", base.retry_after, base.phase)
        elif code == REFUSED:
            out = classifier.exception(ConnectionRefusedError())
        elif code == CONFLICT:
            out = classifier.sqlstate("40001")
        elif code.sqlstate is not None:
            out = classifier.sqlstate(code.sqlstate)
        else:
            headers = None if code.retry_after is None else {"Retry-After": repr(float(code.retry_after))}
            out = classifier.http(code.status, headers)
        cache[code] = out
    return out


def is_5xx(code: Any) -> bool:
    """A 5xx answer or a local-origin failure, as outlier detection counts them."""
    if code is None or code == CONFLICT:
        return False
    if code in (QUEUE_FULL, REFUSED):
        return True
    return bool(code.refuse or code.sqlstate is not None or (code.status is not None and code.status >= 500))


class EdgeStats:
    """An edge's counters over all its caller replicas (events at or after warm-up)."""

    __slots__ = (
        "attempts",
        "compensated",
        "failures",
        "fallbacks",
        "requests",
        "retries",
        "successes",
        "timeouts",
    )

    def __init__(self) -> None:
        self.requests = self.attempts = self.successes = self.fallbacks = self.retries = self.compensated = 0
        self.failures: dict[str, int] = {}
        self.timeouts: dict[str, int] = {}


class HopRequest(CallbackRequest):
    """One execution of an edge's pipeline, for step ``gen`` of the caller's request ``parent``."""

    __slots__ = ("edge", "gen", "parent")

    def __init__(self, env: simpy.Environment, ex: Execution, edge: EdgeRT, parent: Visit, gen: int) -> None:
        self.env = env
        self.ex = ex
        self.edge = edge
        self.parent = parent
        self.gen = gen

    def answered(self, outcome: Outcome, now: float) -> None:
        step = self.ex.next(now, outcome)
        if type(step) is Attempt:
            self.edge.send(self, step, now)
        elif type(step) is Wait:
            self.advance(step)
        else:
            self.edge.finished(self, step, now)  # type: ignore[arg-type]

    def send(self, step: Attempt) -> None:
        self.edge.send(self, step, self.env.now)

    def waiting(self, step: Wait) -> None:
        if self.env.now >= self.edge.warmup:
            self.edge.stats.retries += 1

    def finish(self, step: Done | GiveUp) -> None:
        self.edge.finished(self, step, self.env.now)


class EdgeRT:
    """The calls of edge ``name`` made by one replica of the caller tier."""

    def __init__(
        self,
        name: str,
        cfg: Any,
        caller: TierRT,
        replica: int,
        target: TierRT,
        link: LinkRT | None,
        pipeline: Pipeline,
        balancer: BalancerRT | None,
        stats: EdgeStats,
    ) -> None:
        self.name = name
        self.cfg = cfg
        self.caller = caller
        self.replica = replica
        self.target = target
        self.route: RouteRT = target.routes[cfg.route]
        self.link = link
        self.pipeline = pipeline
        self.balancer = balancer
        self.stats = stats
        self.env = caller.env
        self.warmup = caller.warmup
        self.reserve = cfg.reserve
        self.idempotent = cfg.idempotent
        self.keys = cfg.keys
        self.forward_ip = cfg.forward_ip
        self.compensation: Any = None  # a CompensationQueue taking this caller's failed calls
        self.fallback = cfg.fallback
        self.first_op = Op.READ if cfg.operation == "cas" else Op.CALL
        self.classifier = pipeline.classifier
        self._outcomes: dict[Any, Outcome] = {}
        self.expiry = Expiry(self.env)

    # -- requests ------------------------------------------------------------------------------
    def call(self, parent: Visit, gen: int, now: float) -> None:
        """Start one execution of the pipeline for step ``gen`` of ``parent``, under its deadline."""
        end = parent.budget_end
        key = None if not self.keys or parent.trace is None else f"{parent.trace.tid:016x}"
        deadline = Deadline(end) if end < _INF else None
        ex = self.pipeline.begin(now, deadline, idempotent=self.idempotent, idempotency_key=key)
        h = HopRequest(self.env, ex, self, parent, gen)
        if now >= self.warmup:
            self.stats.requests += 1
        step = ex.next(now)
        if type(step) is Attempt:
            self.send(h, step, now)
        else:
            h.advance(step)

    def send(self, h: HopRequest, step: Attempt, now: float) -> None:
        """Send attempt ``step`` of ``h`` to a replica picked by the balancer."""
        bal = self.balancer
        i = 0 if bal is None else bal.pick(now)
        if i < 0:
            h.answered(outcome_of(self.classifier, self._outcomes, NO_UPSTREAM), now)
            return
        if bal is not None:
            bal.started(i)
        t = step.timeout
        budget_end = _INF
        if t < _INF:
            # the wire form (``resilience.timeouts.propagation.budget_ms``): whole ms, reserve taken
            ms = _floor((t - self.reserve) * 1000 + 1e-9)
            budget_end = now + ms / 1000 if ms > 0 else now
        parent = h.parent
        v = Visit(self.target, i, self.route, budget_end, parent.trace, self.first_op, now)
        v.hop = h
        v.phase = step.phase
        v.new_connection = False  # tiers keep connections to each other alive
        if not self.forward_ip:  # the callee sees the calling replica, not the client (no X-Forwarded-For)
            v.ip = -1 - self.replica
        v.keyed = self.keys
        if now >= self.warmup:
            self.stats.attempts += 1
        if t < _INF:
            v.timer = self.expiry.add(now + t, v, now)
        link = self.link  # ``transmit``, inlined
        if link is None:
            self.target.arrive(v, now)
            return
        d = link.delay()
        if d == LOST:
            return
        if d == 0.0:
            self.target.arrive(v, now)
        else:
            schedule(self.env, d, v, ON_TRAVELLED)

    def transmit(self, v: Visit, now: float) -> None:
        link = self.link
        if link is None:
            self.target.arrive(v, now)
            return
        d = link.delay()
        if d == LOST:
            return
        if d == 0.0:
            self.target.arrive(v, now)
        else:
            schedule(self.env, d, v, ON_TRAVELLED)

    # -- answers -------------------------------------------------------------------------------
    def answered(self, v: Visit, now: float) -> None:
        """The answer to attempt ``v`` reached this caller."""
        code = v.answer
        h: HopRequest = v.hop
        bal = self.balancer
        if bal is not None:
            bal.ended(v.replica, now, is_5xx(code))
        if code is None:
            if h.parent.step == h.gen:
                self.target.useful_s[int(now)] += 1
                if now >= self.warmup:
                    self.target.useful += 1
            step = h.ex.next(now, SUCCESS)
        else:
            step = h.ex.next(now, outcome_of(self.classifier, self._outcomes, code))
        # ``h.answered`` and ``finished``'s success branch, inlined (the hot path)
        if type(step) is Done:
            if now >= self.warmup:
                self.stats.successes += 1
            self.caller.hop_done(h.parent, h.gen, True, False, now)
        elif type(step) is Attempt:
            self.send(h, step, now)
        elif type(step) is Wait:
            h.advance(step)
        else:
            self.finished(h, step, now)  # type: ignore[arg-type]

    def expired(self, v: Visit, now: float) -> None:
        """Attempt ``v``'s timer fired at this caller: a timeout of this tier."""
        bal = self.balancer
        if bal is not None:
            bal.ended(v.replica, now, True)
        if self.target.cancel_on_timeout:
            self.target.cancel(v)
        phase = v.phase or TimeoutPhase.ATTEMPT
        h: HopRequest = v.hop
        if now >= self.warmup:
            t = self.stats.timeouts
            t[phase.value] = t.get(phase.value, 0) + 1
        self.caller.timed_out(h.parent, now, phase.value)
        h.answered(_TIMEOUTS[phase], now)

    def finished(self, h: HopRequest, step: Done | GiveUp, now: float) -> None:
        """``h``'s execution ended: report it to the caller's step join (a fallback counts as success)."""
        counted = now >= self.warmup
        stats = self.stats
        if type(step) is Done:
            if counted:
                stats.successes += 1
            self.caller.hop_done(h.parent, h.gen, True, False, now)
            return
        assert isinstance(step, GiveUp)
        comp = self.compensation
        if comp is not None:  # finished later, asynchronously; a full queue is a failure
            if comp.enqueue(now) is not None:
                if counted:
                    stats.compensated += 1
                if h.parent.step == h.gen:
                    label = self.fallback or f"{self.name}:compensation"
                    self.caller.fallback_used(h.parent, label, now)
                self.caller.hop_done(h.parent, h.gen, True, False, now)
                return
        elif self.fallback is not None:
            if counted:
                stats.fallbacks += 1
            if h.parent.step == h.gen:
                self.caller.fallback_used(h.parent, self.fallback, now)
            self.caller.hop_done(h.parent, h.gen, True, False, now)
            return
        reason = step.reason.value
        if counted:
            stats.failures[reason] = stats.failures.get(reason, 0) + 1
        last = step.last
        deadline = step.reason is _DEADLINE_EXCEEDED or (last is not None and last.kind is _TIMEOUT)
        self.caller.hop_done(h.parent, h.gen, False, deadline, now)
