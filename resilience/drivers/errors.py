"""The exceptions a driver raises when a request gives up (defined in ``resilience.errors``)."""

from __future__ import annotations

from typing import Any

from ..errors import BreakerOpenError, BudgetExhaustedError, DeadlineExceededError, RequestFailed
from ..outcome import FailureReason
from ..steps import GiveUp

__all__ = ["BreakerOpenError", "BudgetExhaustedError", "DeadlineExceededError", "RequestFailed", "failure"]

_CLASSES: dict[FailureReason, type[RequestFailed]] = {
    FailureReason.DEADLINE_EXCEEDED: DeadlineExceededError,
    FailureReason.BREAKER_OPEN: BreakerOpenError,
    FailureReason.BUDGET_EXHAUSTED: BudgetExhaustedError,
}


def failure(step: GiveUp, attempts: int, last_result: Any = None) -> RequestFailed:
    """The exception for a ``GiveUp`` step."""
    if step.reason is FailureReason.BREAKER_OPEN:
        return BreakerOpenError(step.reason, step.last, attempts, last_result, step.retry_after)
    cls = _CLASSES.get(step.reason, RequestFailed)
    return cls(step.reason, step.last, attempts, last_result)
