"""How an exception raised by an attempt becomes its ``Outcome``: classic, or narrowed by ``on``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from ..classify import Classifier
from ..clock import WallClock
from ..outcome import Outcome, OutcomeKind
from ..steps import Attempt
from ._base import exception_outcome

__all__ = ["ExceptionOutcome", "On", "classic_outcome", "narrowed_outcome"]

ExceptionOutcome: TypeAlias = Callable[[Exception, Attempt, bool], Outcome]
"""``(exc, attempt, expired)`` to the attempt's outcome; ``expired``: the driver's own bound fired."""

On: TypeAlias = type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool | float]
"""Which exceptions are retried: a type, a tuple of types, or a predicate.

A predicate decides alone: falsy means not retried, True retried after the
backoff, a number of seconds retried after that delay instead (Retry-After).
"""


def _bounded(step: Attempt, exc: Exception, expired: bool) -> Outcome | None:
    if expired and isinstance(exc, TimeoutError):
        return Outcome.timeout(step.phase) if step.phase else Outcome.timeout()
    return None


def classic_outcome(classifier: Classifier, wall: WallClock, *, ours: bool) -> ExceptionOutcome:
    """The classifier decides (the drivers' behaviour); ``ours``: the attempt's timeout was handed
    to the callee, so a timeout it raises is attributed to the step's bound."""

    def outcome(exc: Exception, step: Attempt, expired: bool) -> Outcome:
        bounded = _bounded(step, exc, expired)
        if bounded is not None:
            return bounded
        return exception_outcome(classifier, exc, step, ours=ours, wall_now=wall.wall())

    return outcome


def narrowed_outcome(classifier: Classifier, wall: WallClock, on: On, *, ours: bool) -> ExceptionOutcome:
    """``on`` narrows which exceptions are eligible; the classifier still refuses what it knows is
    permanent (a 404, SQLSTATE class 23). A predicate ``on`` decides alone."""
    classic = classic_outcome(classifier, wall, ours=ours)
    if isinstance(on, (type, tuple)):
        types = on

        def by_type(exc: Exception, step: Attempt, expired: bool) -> Outcome:
            out = classic(exc, step, expired)
            if not isinstance(exc, types):
                return out if not out.retryable else _refused(out)
            if not out.retryable and out.evidence.startswith("exception_"):  # unknown to the classifier
                return Outcome(out.kind, True, out.evidence, out.retry_after, out.phase)
            return out

        return by_type
    predicate = on

    def by_predicate(exc: Exception, step: Attempt, expired: bool) -> Outcome:
        out = classic(exc, step, expired)
        verdict = predicate(exc)
        if verdict is True:
            return out if out.retryable else Outcome(out.kind, True, out.evidence, out.retry_after, out.phase)
        if verdict is False or verdict is None:
            return _refused(out) if out.retryable else out
        return Outcome(out.kind, True, out.evidence, float(verdict), out.phase)

    return by_predicate


def _refused(out: Outcome) -> Outcome:
    kind = OutcomeKind.ERROR if out.kind is OutcomeKind.REJECTED else out.kind
    return Outcome(kind, False, out.evidence, None, out.phase)
