"""One logical request through deadline → retry → breaker: a sans-I/O state machine.

A driver calls ``next(now)`` and performs the returned step: an ``Attempt``
(then reports its outcome with ``next(now, outcome)``), a ``Wait`` (then asks
again with ``next(now)``), or it stops at ``Done`` / ``GiveUp``. All retry
decisions live here; drivers only call, sleep and read their clock.

The execution holds the leases it was granted and settles each exactly once:
the breaker permit of the attempt in flight (``record`` or ``release``) and
the budget grant of the retry to come (``on_outcome`` once that retry ran,
``refund`` on every path that abandons it: a breaker refusal, a deadline
reached after the wait, ``cancel``). A driver that sees an exception of its
own (a raising result classifier, an interrupted sleep) calls ``cancel``.
"""

from __future__ import annotations

import math

from .deadline import Deadline
from .events import EventKind, Listener, TraceEvent
from .execution_policy import ExecutionPolicy
from .hooks import notify
from .outcome import CANCELLED, SUCCESS, FailureReason, Outcome, OutcomeKind, TimeoutPhase
from .protocols import BreakerLike, BudgetLike, Grant, Permit
from .rng import RandomSource
from .steps import Attempt, Done, GiveUp, Step, Wait

__all__ = ["Execution"]

_READY, _ATTEMPTING, _FINISHED = 0, 1, 2
_INF = math.inf
# Evidence after which the server may have executed the call: a non-idempotent
# call is retried after it only with an idempotency key (like a timeout).
_MAY_HAVE_EXECUTED = frozenset({"connection_error", "http_502", "http_504"})
# the hot path reads these as module globals (an enum member lookup costs more)
_SUCCESS_KIND, _CANCELLED_KIND = OutcomeKind.SUCCESS, OutcomeKind.CANCELLED
_ATTEMPT_PHASE, _DEADLINE_PHASE = TimeoutPhase.ATTEMPT, TimeoutPhase.DEADLINE
_DONE = Done(SUCCESS)  # the step of every plain success (steps are never changed once made)


class Execution:
    """The decisions for one logical request; not shared between threads.

    ``policy`` holds the retry settings; ``breaker``, ``budget``, ``rng`` (the
    backoff jitter) and ``listeners`` are the shared collaborators.
    """

    __slots__ = (
        "_attempt_started",
        "_breaker",
        "_budget",
        "_emit",
        "_grant",
        "_listeners",
        "_permit",
        "_policy",
        "_previous_delay",
        "_rng",
        "_state",
        "attempts",
        "deadline",
        "idempotency_key",
        "idempotent",
        "last",
        "result",
        "started_at",
        "trace",
    )

    def __init__(
        self,
        policy: ExecutionPolicy,
        now: float,
        deadline: Deadline | None,
        rng: RandomSource,
        breaker: BreakerLike | None = None,
        budget: BudgetLike | None = None,
        listeners: tuple[Listener, ...] = (),
        idempotent: bool = True,
        idempotency_key: str | None = None,
        trace: list[TraceEvent] | None = None,
    ) -> None:
        self._policy = policy
        self._breaker = breaker
        self._budget = budget
        self._rng = rng
        self._listeners = listeners
        self._permit: Permit | None = None
        self._grant: Grant | None = None
        self.deadline = deadline
        self.attempts = 0
        self.started_at = now
        self._attempt_started = now
        self._previous_delay = 0.0
        self.last: Outcome | None = None
        self._state = _READY
        self.idempotent = idempotent
        self.idempotency_key = idempotency_key
        self.trace = trace
        self._emit = trace is not None or listeners != ()
        self.result: Step | None = None
        if self._emit:
            left = _INF if deadline is None else deadline.remaining(now)
            self._event(TraceEvent(now, EventKind.REQUEST, 0, "", left))
        if budget is not None and not budget.on_request(now):
            self._reject(now, FailureReason.BUDGET_EXHAUSTED)

    # -- the protocol ---------------------------------------------------------
    def next(self, now: float, outcome: Outcome | None = None) -> Step:
        """The next step; pass the outcome when the previous step was an Attempt."""
        state = self._state
        if state == _READY:
            if outcome is not None:
                raise RuntimeError("Execution.next: an outcome was given but no attempt was made")
            # start an attempt (inlined: the hot path)
            deadline = self.deadline
            if deadline is not None and now >= deadline.expires_at:
                return self._give_up(now, FailureReason.DEADLINE_EXCEEDED)
            breaker = self._breaker
            if breaker is not None:
                permit = breaker.try_acquire(now)
                if permit is None:
                    return self._reject(now, FailureReason.BREAKER_OPEN, breaker.seconds_until_probe(now))
                self._permit = permit
            self.attempts = n = self.attempts + 1
            self._attempt_started = now
            self._state = _ATTEMPTING
            timeout = self._policy.attempt_timeout
            phase: TimeoutPhase | None = _ATTEMPT_PHASE if timeout < _INF else None
            if deadline is not None:
                left = deadline.expires_at - now
                if left <= timeout and left < _INF:
                    timeout, phase = left, _DEADLINE_PHASE
            step = Attempt(n, timeout, phase)
            if self._emit:
                self._event(TraceEvent(now, EventKind.ATTEMPT, n, phase.value if phase else "none", timeout))
            return step
        if state == _ATTEMPTING:
            if outcome is None:
                raise RuntimeError("Execution.next: the attempt's outcome is required")
            return self._finish_attempt(now, outcome)
        if outcome is not None:
            raise RuntimeError("Execution.next: an outcome was given but the request has finished")
        if self.result is None:
            raise RuntimeError("Execution.next: a previous step raised; call cancel to settle the request")
        return self.result

    @property
    def finished(self) -> bool:
        """True once the request has its final step (``Done`` or ``GiveUp``)."""
        return self.result is not None

    def cancel(self, now: float) -> Step:
        """The caller cancelled or abandoned the request: finish with ``GiveUp(CANCELLED)``.

        An attempt in flight is reported as cancelled (its breaker permit is
        released, nothing is recorded as a failure); a retry granted but not
        yet started has its grant refunded. A finished request keeps its
        result. Safe to call at any point, also after a step raised.
        """
        if self._state == _ATTEMPTING:
            return self._finish_attempt(now, CANCELLED)
        result = self.result
        if result is None:  # between attempts, or a decision interrupted by an exception
            return self._give_up(now, FailureReason.CANCELLED)
        return result

    # -- internals ------------------------------------------------------------
    def _finish_attempt(self, now: float, outcome: Outcome) -> Step:
        self._state = _FINISHED  # until decided: if anything below raises, cancel() settles the rest
        duration = now - self._attempt_started
        self.last = outcome
        kind = outcome.kind
        n = self.attempts
        if self._emit:
            evidence = outcome.evidence
            if kind is OutcomeKind.TIMEOUT and evidence == "timeout" and outcome.phase is not None:
                evidence = f"timeout_{outcome.phase.value}"  # which bound fired: timeout_attempt …
            self._event(TraceEvent(now, EventKind.OUTCOME, n, kind.value, duration, evidence))
        # settle the attempt's permit and the grant it ran on, each exactly once
        permit, grant = self._permit, self._grant
        self._permit = self._grant = None
        budget = self._budget
        try:
            if permit is not None:
                breaker = self._breaker
                assert breaker is not None
                if kind is _CANCELLED_KIND:
                    breaker.release(permit, now)
                else:
                    breaker.record(permit, now, duration, outcome)
        finally:
            if budget is not None:
                budget.on_outcome(now, outcome, grant)
        if kind is _SUCCESS_KIND:
            if self._emit:
                self._event(TraceEvent(now, EventKind.SUCCESS, n, "", now - self.started_at))
            self.result = step = _DONE if outcome is SUCCESS else Done(outcome)
            return step
        return self._retry_or_give_up(now, outcome, n)

    def _retry_or_give_up(self, now: float, outcome: Outcome, n: int) -> Step:
        kind = outcome.kind
        if kind is OutcomeKind.CANCELLED:
            return self._give_up(now, FailureReason.CANCELLED)
        if not outcome.retryable:
            return self._give_up(now, FailureReason.PERMANENT_ERROR)
        deadline = self.deadline
        if deadline is not None and now >= deadline.expires_at:
            return self._give_up(now, FailureReason.DEADLINE_EXCEEDED)
        if n >= self._policy.max_attempts:
            return self._give_up(now, FailureReason.RETRIES_EXHAUSTED)
        if (
            not self.idempotent
            and self.idempotency_key is None
            and (kind is OutcomeKind.TIMEOUT or outcome.evidence in _MAY_HAVE_EXECUTED)
        ):
            return self._give_up(now, FailureReason.NOT_IDEMPOTENT)
        delay, cause = self._delay(n, outcome)
        if deadline is not None and now + delay >= deadline.expires_at:
            return self._give_up(now, FailureReason.DEADLINE_EXCEEDED)
        step = Wait(delay, cause)
        budget = self._budget
        if budget is not None:
            grant = budget.try_acquire_retry(now, outcome)
            if grant is None:
                return self._reject(now, FailureReason.BUDGET_EXHAUSTED)
            self._grant = grant
        self._previous_delay = delay
        self._state = _READY
        if self._emit:
            self._event(TraceEvent(now, EventKind.WAIT, n, cause, delay))
        return step

    def _delay(self, retry: int, outcome: Outcome) -> tuple[float, str]:
        p = self._policy
        hint = outcome.retry_after
        if hint is not None and p.honor_retry_after and hint >= 0.0:  # a NaN or negative hint is no hint
            if hint > p.max_retry_after:
                return p.max_retry_after, "retry_after_clamped"
            return hint, "retry_after"
        return p.backoff.delay(retry, self._previous_delay, self._rng), "backoff"

    def _reject(self, now: float, reason: FailureReason, retry_after: float | None = None) -> GiveUp:
        if self._emit:
            self._event(TraceEvent(now, EventKind.REJECTED, self.attempts, reason.value))
        return self._give_up(now, reason, retry_after)

    def _give_up(self, now: float, reason: FailureReason, retry_after: float | None = None) -> GiveUp:
        self._state = _FINISHED
        grant, budget = self._grant, self._budget
        if grant is not None and budget is not None:  # the retry it paid for never ran
            self._grant = None
            budget.refund(grant, now)
        step = GiveUp(reason, self.last, retry_after)
        self.result = step
        if self._emit:
            ev = "" if self.last is None else self.last.evidence
            self._event(
                TraceEvent(now, EventKind.GIVE_UP, self.attempts, reason.value, now - self.started_at, ev)
            )
        return step

    def _event(self, event: TraceEvent) -> None:
        if self.trace is not None:
            self.trace.append(event)
        if self._listeners:
            notify(self._listeners, self._policy.name, event)
