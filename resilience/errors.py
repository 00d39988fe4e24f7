"""One exception hierarchy for requests that end without success.

``RequestFailed`` wraps a give-up (the drivers' classic form). ``Refused`` is
the common base of local refusals: the request was stopped here, before (or
instead of) an attempt. The refusal classes subclass the classic ones, so an
``except BreakerOpenError`` written for the drivers catches ``BreakerOpen`` too.
``RetriesExhausted`` ends a request whose last attempt returned a value
classified as a failure (an HTTP 503 response): the value is ``last_result``.
"""

from __future__ import annotations

from typing import Any

from .outcome import FailureReason, Outcome

__all__ = [
    "BreakerOpen",
    "BreakerOpenError",
    "BudgetExhausted",
    "BudgetExhaustedError",
    "DeadlineExceeded",
    "DeadlineExceededError",
    "Refused",
    "RequestFailed",
    "RetriesExhausted",
]


class Refused(Exception):
    """A local refusal: a breaker, budget, deadline, bulkhead or rate limiter stopped the call."""


class RequestFailed(Exception):
    """A request ended without success; ``__cause__`` is the last exception, if any.

    ``reason`` is the final decision, ``last_outcome`` the last evidence seen,
    ``attempts`` how many attempts left the client, ``last_result`` the last
    returned value when results were classified as failures.
    """

    reason: FailureReason
    last_outcome: Outcome | None
    attempts: int
    last_result: Any

    def __init__(
        self, reason: FailureReason, last_outcome: Outcome | None, attempts: int, last_result: Any = None
    ) -> None:
        super().__init__(reason, last_outcome, attempts, last_result)
        self.reason = reason
        self.last_outcome = last_outcome
        self.attempts = attempts
        self.last_result = last_result

    def __str__(self) -> str:
        last = "nothing" if self.last_outcome is None else self.last_outcome.evidence
        return f"{self.reason.value} after {self.attempts} attempt(s); last: {last}"


class DeadlineExceededError(RequestFailed):
    """The request's deadline ended (or the next wait would outlast it)."""


class BreakerOpenError(RequestFailed):
    """The circuit breaker refused the call.

    ``retry_after``: seconds until the breaker may permit a call again, as it
    said when it refused (None: not on its own, e.g. forced open); other layers
    (an HTTP ``Retry-After``, a fallback's schedule) reuse it.
    """

    retry_after: float | None

    def __init__(
        self,
        reason: FailureReason,
        last_outcome: Outcome | None,
        attempts: int,
        last_result: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, last_outcome, attempts, last_result)
        self.args = (reason, last_outcome, attempts, last_result, retry_after)
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = super().__str__()
        return text if self.retry_after is None else f"{text}; retry after {self.retry_after:g} s"


class BudgetExhaustedError(RequestFailed):
    """The retry budget refused the request or its retry."""


class DeadlineExceeded(DeadlineExceededError, Refused):
    """The deadline ended before any attempt ran."""


class BreakerOpen(BreakerOpenError, Refused):
    """The breaker refused the first attempt; ``retry_after`` is the seconds until it probes."""


class BudgetExhausted(BudgetExhaustedError, Refused):
    """The retry budget refused the request before any attempt ran."""


class RetriesExhausted(RequestFailed):
    """The last attempt returned a value classified as a failure; it is ``last_result``."""
