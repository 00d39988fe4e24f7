"""One logical request through deadline → retry → breaker: a sans-I/O state machine.

A driver calls ``next(now)`` and performs the returned step: an ``Attempt``
(then reports its outcome with ``next(now, outcome)``), a ``Wait`` (then asks
again with ``next(now)``), or it stops at ``Done`` / ``GiveUp``. All retry
decisions live here; drivers only call, sleep and read their clock.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .deadline import Deadline
from .events import EventKind, TraceEvent
from .outcome import CANCELLED, FailureReason, Outcome, OutcomeKind, TimeoutPhase
from .steps import Attempt, Done, GiveUp, Step, Wait

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["Execution"]

_READY, _ATTEMPTING, _FINISHED = 0, 1, 2
_INF = math.inf
# Evidence after which the server may have executed the call: a non-idempotent
# call is retried after it only with an idempotency key (like a timeout).
_MAY_HAVE_EXECUTED = frozenset({"connection_error", "http_502", "http_504"})


class Execution:
    """The decisions for one logical request; not shared between threads."""

    __slots__ = (
        "_attempt_started",
        "_emit",
        "_p",
        "_previous_delay",
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
        pipeline: Pipeline,
        now: float,
        deadline: Deadline | None,
        *,
        idempotent: bool,
        idempotency_key: str | None,
        trace: list[TraceEvent] | None,
    ) -> None:
        self._p = pipeline
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
        self._emit = trace is not None or bool(pipeline.listeners)
        self.result: Step | None = None
        if self._emit:
            left = _INF if deadline is None else deadline.remaining(now)
            self._event(TraceEvent(now, EventKind.REQUEST, 0, "", left))
        budget = pipeline.budget
        if budget is not None and not budget.on_request(now):
            self._reject(now, FailureReason.BUDGET_EXHAUSTED)

    # -- the protocol ---------------------------------------------------------
    def next(self, now: float, outcome: Outcome | None = None) -> Step:
        """The next step; pass the outcome when the previous step was an Attempt."""
        state = self._state
        if state == _READY:
            if outcome is not None:
                raise RuntimeError("Execution.next: an outcome was given but no attempt was made")
            return self._start_attempt(now)
        if state == _ATTEMPTING:
            if outcome is None:
                raise RuntimeError("Execution.next: the attempt's outcome is required")
            return self._finish_attempt(now, outcome)
        if outcome is not None:
            raise RuntimeError("Execution.next: an outcome was given but the request has finished")
        assert self.result is not None
        return self.result

    @property
    def finished(self) -> bool:
        return self._state == _FINISHED

    def cancel(self, now: float) -> Step:
        """The caller cancelled the request: finish with ``GiveUp(CANCELLED)``.

        An attempt in flight is reported as cancelled (a breaker permission is
        released, nothing is recorded as a failure); a finished request keeps
        its result.
        """
        state = self._state
        if state == _ATTEMPTING:
            return self._finish_attempt(now, CANCELLED)
        if state == _READY:
            return self._give_up(now, FailureReason.CANCELLED)
        assert self.result is not None
        return self.result

    # -- internals ------------------------------------------------------------
    def _start_attempt(self, now: float) -> Step:
        p = self._p
        deadline = self.deadline
        if deadline is not None and now >= deadline.expires_at:
            return self._give_up(now, FailureReason.DEADLINE_EXCEEDED)
        breaker = p.breaker
        if breaker is not None and not breaker.try_acquire(now):
            return self._reject(now, FailureReason.BREAKER_OPEN)
        self.attempts = n = self.attempts + 1
        self._attempt_started = now
        self._state = _ATTEMPTING
        timeout = p.attempt_timeout
        phase: TimeoutPhase | None = TimeoutPhase.ATTEMPT if timeout < _INF else None
        if deadline is not None:
            left = deadline.expires_at - now
            if left <= timeout and left < _INF:
                timeout, phase = left, TimeoutPhase.DEADLINE
        step = Attempt(n, timeout, phase)
        if self._emit:
            self._event(TraceEvent(now, EventKind.ATTEMPT, n, phase.value if phase else "none", timeout))
        return step

    def _finish_attempt(self, now: float, outcome: Outcome) -> Step:
        p = self._p
        duration = now - self._attempt_started
        self.last = outcome
        kind = outcome.kind
        n = self.attempts
        if self._emit:
            evidence = outcome.evidence
            if kind is OutcomeKind.TIMEOUT and evidence == "timeout" and outcome.phase is not None:
                evidence = f"timeout_{outcome.phase.value}"  # which bound fired: timeout_attempt …
            self._event(TraceEvent(now, EventKind.OUTCOME, n, kind.value, duration, evidence))
        breaker = p.breaker
        if breaker is not None:
            if kind is OutcomeKind.CANCELLED:
                breaker.release(now)
            else:
                breaker.record(now, duration, outcome)
        budget = p.budget
        if budget is not None:
            budget.on_outcome(now, outcome, retry=n > 1)
        if kind is OutcomeKind.SUCCESS:
            self._state = _FINISHED
            if self._emit:
                self._event(TraceEvent(now, EventKind.SUCCESS, n, "", now - self.started_at))
            self.result = step = Done(outcome)
            return step
        if kind is OutcomeKind.CANCELLED:
            return self._give_up(now, FailureReason.CANCELLED)
        if not outcome.retryable:
            return self._give_up(now, FailureReason.PERMANENT_ERROR)
        deadline = self.deadline
        if deadline is not None and now >= deadline.expires_at:
            return self._give_up(now, FailureReason.DEADLINE_EXCEEDED)
        if n >= p.max_attempts:
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
        if budget is not None and not budget.try_acquire_retry(now, outcome):
            return self._reject(now, FailureReason.BUDGET_EXHAUSTED)
        self._previous_delay = delay
        self._state = _READY
        if self._emit:
            self._event(TraceEvent(now, EventKind.WAIT, n, cause, delay))
        return Wait(delay, cause)

    def _delay(self, retry: int, outcome: Outcome) -> tuple[float, str]:
        p = self._p
        hint = outcome.retry_after
        if hint is not None and p.honor_retry_after:
            if hint > p.max_retry_after:
                return p.max_retry_after, "retry_after_clamped"
            return hint, "retry_after"
        return p.backoff.delay(retry, self._previous_delay, p.rng), "backoff"

    def _reject(self, now: float, reason: FailureReason) -> GiveUp:
        if self._emit:
            self._event(TraceEvent(now, EventKind.REJECTED, self.attempts, reason.value))
        return self._give_up(now, reason)

    def _give_up(self, now: float, reason: FailureReason) -> GiveUp:
        self._state = _FINISHED
        step = GiveUp(reason, self.last)
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
        name = self._p.name
        for listener in self._p.listeners:
            listener(name, event)
