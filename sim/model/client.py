"""Client groups at run time: arrivals, per-instance pipelines, attempts over a link to a service."""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

import simpy

from resilience.classify import Classifier
from resilience.execution import Execution
from resilience.outcome import SUCCESS, FailureReason, Outcome, OutcomeKind, TimeoutPhase
from resilience.pipeline import Pipeline
from resilience.steps import Attempt, Done, GiveUp, Wait
from sim.model.calls import Op, Stage
from sim.model.clock import later
from sim.model.driver import CallbackRequest, call_later
from sim.model.instances import Instances
from sim.model.links import LOST, LinkRT
from sim.model.ports import CallTarget, GroupTally
from sim.model.service import CONFLICT, QUEUE_FULL, REFUSED
from sim.observe.histogram import LogHistogram
from sim.scenario.spec import ClientGroup, ErrorSpec

__all__ = ["Call", "GroupRT", "Request"]

_bisect_left: Final = bisect.bisect_left  # Final: a C static when compiled

_INF: Final = math.inf
_SUCCESS_KIND: Final = OutcomeKind.SUCCESS
_CALL: Final = Op.CALL
_READ: Final = Op.READ
_WRITE: Final = Op.WRITE
_TRAVELLING: Final = Stage.TRAVELLING
REASONS = tuple(r.value for r in FailureReason)
KINDS = tuple(k.value for k in OutcomeKind)


class Call:
    """One attempt in flight (a CAS attempt makes two trips: read, then write)."""

    __slots__ = (
        "deadline",
        "done",
        "error",
        "op",
        "phase",
        "req",
        "sent",
        "stage",
        "svc_arrival",
        "svc_start",
        "target",
        "timer",
        "version",
    )

    def __init__(
        self, req: Request, target: CallTarget, op: Op, phase: TimeoutPhase | None, now: float
    ) -> None:
        self.req = req
        self.target = target
        self.done = False
        self.timer: list[Any] | None = None  # [due, call] in the group's ``expiry``, if it has one
        self.op = op
        self.version = -1
        self.error: ErrorSpec | None = None
        self.stage = _TRAVELLING
        self.svc_arrival = -1.0
        self.svc_start = -1.0
        self.phase = phase
        self.sent = now
        self.deadline = _INF  # the attempt's timeout point, set when it is sent (queue policies read it)

    def arrive(self, _ev: object) -> None:
        """The call reaches the service after its link delay (a timer callback)."""
        self.target.arrive(self, self.req.env.now)

    def served(self, _ev: object) -> None:
        """The service time is over (a timer callback)."""
        self.target.finish(self)

    def respond(self, code: Any, now: float) -> None:
        """The service answers at ``now``; the answer travels back over the link."""
        if self.done:
            return
        self.error = code
        link = self.req.g.link
        if link is None:  # the common case: answered in place, no timer, ``now`` passed along
            self.receive(now)
            return
        d = link.delay()
        if d == LOST:
            return
        if d == 0.0:
            self.receive(now)
        else:
            call_later(self.req.env, d, self._received)

    def _received(self, _ev: object) -> None:
        self.receive(self.req.env.now)

    def receive(self, now: float) -> None:
        """The answer reaches the client at ``now``: a CAS read goes on to its write, or the attempt ends."""
        if self.done:
            return
        req = self.req
        g = req.g
        code = self.error
        if self.op == _READ and code is None:  # read answered: now the conditional write
            self.op = _WRITE
            self.error = None
            self.stage = _TRAVELLING
            g.count_call(req, _WRITE)
            g.transmit(self, now)
            return
        self.done = True
        timer = self.timer
        if timer is not None:  # the group's timer queue no longer keeps the finished call alive
            timer[1] = None
        outcome = SUCCESS if code is None else g.outcome_of(code)
        g.attempt_done(self, outcome, now)
        req.answered(outcome, now)

    def timed_out(self, _ev: object) -> None:
        if self.done:
            return
        self.done = True
        req = self.req
        g = req.g
        target = self.target
        if target.cancel_on_timeout:
            target.cancel(self)
        outcome = Outcome.timeout(self.phase or TimeoutPhase.ATTEMPT)
        p = outcome.phase.value  # type: ignore[union-attr]
        g.timeouts[p] = g.timeouts.get(p, 0) + 1
        now = req.env.now
        g.attempt_done(self, outcome, now)
        req.answered(outcome, now)


class Request(CallbackRequest):
    """One logical request of one client instance."""

    __slots__ = ("counted", "done_cb", "g", "inst", "t0")

    def __init__(
        self,
        env: simpy.Environment,
        ex: Execution,
        g: GroupRT,
        inst: int,
        t0: float,
        counted: bool,
        done_cb: Callable[[Request], None] | None,
    ) -> None:
        self.env = env
        self.ex = ex
        self.g = g
        self.inst = inst
        self.t0 = t0
        self.counted = counted
        self.done_cb = done_cb

    def answered(self, outcome: Outcome, now: float) -> None:
        """``deliver`` with the clock already read; a final step is handled here, without ``advance``."""
        step = self.ex.next(now, outcome)
        if type(step) is Done:  # the common end: skip the dispatch and the ``finish`` hop
            self.g.finished(self, step, now)
            cb = self.done_cb
            if cb is not None:
                cb(self)
        else:
            self.advance(step)

    def send(self, step: Attempt) -> None:
        self.send_at(step, self.env.now)

    def send_at(self, step: Attempt, now: float) -> None:
        """Start the attempt ``step`` at ``now``: count it, arm its timeout, put the call on the wire."""
        g = self.g
        op = g.first_op
        c = Call(self, g.service, op, step.phase, now)
        g.attempts += 1
        g.calls[op] += 1
        if self.counted:
            g.c_attempts += 1
            g.c_calls[op] += 1
        timeout = step.timeout
        if timeout < _INF:
            c.deadline = now + timeout
            if timeout == g.attempt_timeout:
                c.timer = entry = [now + timeout, c]
                g.expiry.append(entry)
                if not g.armed:
                    g.armed = True
                    later(g.env, timeout, g.expire)
            else:
                later(g.env, timeout, c.timed_out)
        if g.link is None:
            g.service.arrive(c, now)
        else:
            g.transmit(c, now)

    def waiting(self, step: Wait) -> None:
        g = self.g
        cause = step.cause
        g.retries[cause] = g.retries.get(cause, 0) + 1

    def finish(self, step: Done | GiveUp) -> None:
        self.g.finished(self, step, self.env.now)
        cb = self.done_cb
        if cb is not None:
            cb(self)


class GroupRT:
    """A client group: its instances' pipelines (built on first use), its link and service, and its
    counters."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        cfg: ClientGroup,
        service: CallTarget,
        link: LinkRT | None,
        pipelines: Sequence[Pipeline],
        classifier: Classifier,
        warmup: float,
        slo: float,
        recorder: GroupTally,
    ) -> None:
        self.env = env
        self.name = name
        self.cfg = cfg
        self.edge = f"{name}->{cfg.target}"
        self.service = service
        self.link = link
        self.pipelines = Instances.of(pipelines)  # built on first use (see ``sim.model.instances``)
        self._built = self.pipelines.items
        self._busy = self.pipelines.busy  # instances with requests in flight (read by ``budget_tokens``)
        self._touched = self.pipelines.touched
        self.instances = len(pipelines)
        self.classifier = classifier
        self.cas = cfg.operation == "cas"
        self.first_op = _READ if self.cas else _CALL  # a CAS attempt starts with its read
        self.idempotent = cfg.idempotent
        self.fallback = cfg.fallback
        self.warmup = warmup
        self.slo = slo
        self.ops = (_READ, _WRITE) if self.cas else (_CALL,)
        self._outcomes: dict[Any, Outcome] = {}
        at = cfg.retry.attempt_timeout
        self.attempt_timeout = _INF if at is None else at
        self.expiry: deque[list[Any]] = deque()  # [due, call or None once answered], due times in order
        self.armed = False
        # cumulative counters (all requests; bins and series are cut from these)
        self.offered = self.attempts = self.successes = self.good = self.in_flight = 0
        self.failures: dict[str, int] = {}
        self.degraded: dict[str, int] = {}
        self.retries: dict[str, int] = {}
        self.rejections: dict[str, int] = {}
        self._att: dict[int, list[Any]] = {}  # id(outcome) -> [outcome, kind label, histogram, sum]
        self.timeouts: dict[str, int] = {}
        self.calls = [0, 0, 0]
        self.lat_bin = LogHistogram()  # successes finishing in the current bin (arrived before warm-up)
        self.lat_bin_counted = LogHistogram()  # … arrived after warm-up (c_latency: all of them, at the end)
        self.success_sum = 0.0
        self.buckets = rec_buckets = recorder.buckets
        self.req_hist = {r: [0] * (len(rec_buckets) + 1) for r in ("success", "failure", "degraded")}
        self.req_sum = {r: 0.0 for r in ("failure", "degraded")}
        self._h_success = self.req_hist["success"]
        self.offered_s = recorder.offered_s
        self.good_s = recorder.good_s
        # summary counters: requests arriving after warm-up only
        self.c_requests = self.c_attempts = self.c_successes = self.c_good = self.c_in_flight = 0
        self.c_failures: dict[str, int] = {}
        self.c_evidence: dict[str, dict[str, int]] = {}
        self.c_degraded: dict[str, int] = {}
        self.c_calls = [0, 0, 0]
        self.c_latency = LogHistogram()

    # -- attempt timeouts ----------------------------------------------------------------
    def expire(self, _ev: object) -> None:
        """Fire due attempt timeouts. Attempts bounded by the group's attempt timeout expire in the
        order they were sent, so one timer serves them all and answered attempts cost no event."""
        q = self.expiry
        now = self.env.now
        while q:
            entry = q[0]
            c = entry[1]
            if c is None:
                q.popleft()
            elif entry[0] <= now:
                q.popleft()
                entry[1] = None
                c.timed_out(None)
            else:
                call_later(self.env, entry[0] - now, self.expire)
                return
        self.armed = False

    # -- requests ----------------------------------------------------------------------
    def start(self, instance: int, done_cb: Any = None) -> None:
        env = self.env
        now = env.now  # read once; passed down the request's first step
        p = self._built[instance]
        if p is None:
            p = self.pipelines.get(instance)
        ex = p.begin(now, idempotent=self.idempotent)
        busy = self._busy
        busy[instance] = busy.get(instance, 0) + 1
        counted = now >= self.warmup
        req = Request(env, ex, self, instance, now, counted, done_cb)
        self.offered += 1
        self.in_flight += 1
        if counted:
            self.c_requests += 1
            self.c_in_flight += 1
        self.offered_s[int(now)] += 1
        step = ex.next(now)
        if type(step) is Attempt:  # the common first step: send it with the clock already read
            req.send_at(step, now)
        else:
            req.advance(step)

    def count_call(self, req: Request, op: Op) -> None:
        self.calls[op] += 1
        if req.counted:
            self.c_calls[op] += 1

    def transmit(self, c: Call, now: float) -> None:
        link = self.link
        if link is None:
            self.service.arrive(c, now)
            return
        d = link.delay()
        if d == LOST:
            return
        if d == 0.0:
            self.service.arrive(c, now)
        else:
            call_later(self.env, d, c.arrive)

    def outcome_of(self, code: Any) -> Outcome:
        """The classifier's verdict on a service's answer (cached per kind of answer)."""
        out = self._outcomes.get(code)
        if out is None:
            cls = self.classifier
            if code == QUEUE_FULL:
                base = cls.http(503)
                out = Outcome(base.kind, base.retryable, "queue_full", base.retry_after, base.phase)
            elif code == REFUSED:
                out = cls.exception(ConnectionRefusedError())
            elif code == CONFLICT:
                out = cls.sqlstate("40001")
            elif code.sqlstate is not None:
                out = cls.sqlstate(code.sqlstate)
            else:
                headers = None if code.retry_after is None else {"Retry-After": repr(float(code.retry_after))}
                out = cls.http(code.status, headers)
            self._outcomes[code] = out
        return out

    def attempt_done(self, c: Call, outcome: Outcome, now: float) -> None:
        # outcomes here are long-lived (SUCCESS, cached verdicts, timeout singletons): key them by identity
        entry = self._att.get(id(outcome))
        if entry is None:
            entry = self._att[id(outcome)] = [outcome, outcome.kind.value, [0] * (len(self.buckets) + 1), 0.0]
        dur = now - c.sent
        entry[2][_bisect_left(self.buckets, dur)] += 1
        entry[3] += dur

    def attempt_stats(self) -> dict[str, tuple[list[int], float]]:
        """Attempt-duration histogram and sum per outcome kind (cumulative)."""
        out: dict[str, tuple[list[int], float]] = {}
        for _, kind, hist, total in self._att.values():
            if kind in out:
                h, s = out[kind]
                out[kind] = ([a + b for a, b in zip(h, hist, strict=True)], s + total)
            else:
                out[kind] = (list(hist), total)
        return dict(sorted(out.items()))

    def finished(self, req: Request, step: Done | GiveUp, now: float) -> None:
        inst = req.inst
        busy = self._busy
        left = busy.pop(inst, 1) - 1
        if left > 0:
            busy[inst] = left
        else:
            self._touched.add(inst)
        latency = now - req.t0
        self.in_flight -= 1
        counted = req.counted
        if counted:
            self.c_in_flight -= 1
        if type(step) is Done:
            self.successes += 1
            self._h_success[_bisect_left(self.buckets, latency)] += 1
            self.success_sum += latency
            good = latency <= self.slo
            if good:
                self.good += 1
                self.good_s[int(req.t0)] += 1
            if counted:
                self.c_successes += 1
                self.lat_bin_counted.add(latency)
                if good:
                    self.c_good += 1
            else:
                self.lat_bin.add(latency)
            return
        reason = step.reason._value_  # type: ignore[union-attr]
        if reason in ("breaker_open", "budget_exhausted"):
            self.rejections[reason] = self.rejections.get(reason, 0) + 1
        tier = self.fallback
        result = "failure" if tier is None else "degraded"
        self.req_hist[result][_bisect_left(self.buckets, latency)] += 1
        self.req_sum[result] += latency
        if tier is None:
            self.failures[reason] = self.failures.get(reason, 0) + 1
        else:
            self.degraded[reason] = self.degraded.get(reason, 0) + 1
        if counted:
            if tier is None:
                self.c_failures[reason] = self.c_failures.get(reason, 0) + 1
                last = step.last  # type: ignore[union-attr]
                ev = "none" if last is None else last.evidence
                per = self.c_evidence.setdefault(reason, {})
                per[ev] = per.get(ev, 0) + 1
            else:
                self.c_degraded[tier] = self.c_degraded.get(tier, 0) + 1
