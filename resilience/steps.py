"""The steps an execution asks its driver to perform."""

from __future__ import annotations

import math

from .outcome import FailureReason, Outcome, TimeoutPhase

__all__ = ["Attempt", "Done", "GiveUp", "Step", "Wait"]


class Attempt:
    """Make attempt ``number`` now, bounded by ``timeout`` seconds (inf: unbounded)."""

    __slots__ = ("number", "phase", "timeout")

    def __init__(self, number: int, timeout: float, phase: TimeoutPhase | None) -> None:
        self.number = number
        self.timeout = timeout
        self.phase = phase  # which bound ``timeout`` comes from: ATTEMPT, DEADLINE or None

    def __repr__(self) -> str:
        return f"Attempt(number={self.number}, timeout={self.timeout!r}, phase={self.phase})"


class Wait:
    """Sleep ``delay`` seconds (finite, never negative), then ask for the next step."""

    __slots__ = ("cause", "delay")

    def __init__(self, delay: float, cause: str) -> None:
        if not 0.0 <= delay < math.inf:
            raise ValueError(f"Wait.delay={delay!r}: must be >= 0 and finite")
        self.delay = delay
        self.cause = cause

    def __repr__(self) -> str:
        return f"Wait(delay={self.delay!r}, cause={self.cause!r})"


class Done:
    """The request succeeded with the last attempt's result."""

    __slots__ = ("outcome",)

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def __repr__(self) -> str:
        return f"Done({self.outcome.evidence!r})"


class GiveUp:
    """The request failed: ``reason`` is the final decision, ``last`` the last evidence.

    ``retry_after``: when the breaker refused, the seconds until it may permit
    a call again (None when it will not on its own, or for other reasons).
    """

    __slots__ = ("last", "reason", "retry_after")

    def __init__(self, reason: FailureReason, last: Outcome | None, retry_after: float | None = None) -> None:
        self.reason = reason
        self.last = last
        self.retry_after = retry_after

    def __repr__(self) -> str:
        ev = None if self.last is None else self.last.evidence
        hint = "" if self.retry_after is None else f", retry_after={self.retry_after!r}"
        return f"GiveUp(reason={self.reason.value!r}, last={ev!r}{hint})"


Step = Attempt | Wait | Done | GiveUp
"""What ``Execution.next`` returns."""
