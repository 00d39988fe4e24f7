"""Why admission control refused a call."""

from __future__ import annotations

import enum

from ..errors import Refused

__all__ = [
    "AdmissionRejected",
    "BulkheadFull",
    "RateLimited",
    "RejectionCause",
    "Rejected",
    "rejection_error",
]


class RejectionCause(enum.Enum):
    """The ``cause`` label of ``resilience_admission_rejections_total``."""

    BULKHEAD_FULL = "bulkhead_full"  # every slot busy and the waiting room full (or no waiting allowed)
    QUEUE_TIMEOUT = "queue_timeout"  # waited max_wait_time without getting a slot
    RATE_LIMITED = "rate_limited"  # the token bucket had too few tokens
    CONCURRENCY_LIMIT = "concurrency_limit"  # the adaptive limit was reached


class Rejected:
    """A refusal decision."""

    __slots__ = ("cause",)

    def __init__(self, cause: RejectionCause) -> None:
        self.cause = cause

    def __repr__(self) -> str:
        return f"Rejected({self.cause.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rejected) and other.cause is self.cause

    def __hash__(self) -> int:
        return hash(self.cause)


class AdmissionRejected(Exception):
    """Raised by the sync and asyncio helpers when admission refuses a call."""

    def __init__(self, cause: RejectionCause, name: str = "default") -> None:
        super().__init__(cause, name)
        self.cause = cause
        self.name = name

    def __str__(self) -> str:
        return f"{self.name}: admission refused ({self.cause.value})"


class BulkheadFull(AdmissionRejected, Refused):
    """The bulkhead or concurrency limit had no slot (or the wait for one ended)."""


class RateLimited(AdmissionRejected, Refused):
    """The rate limiter had too few tokens."""


def rejection_error(cause: RejectionCause, name: str = "default") -> AdmissionRejected:
    """The exception for a refusal: ``RateLimited`` or ``BulkheadFull`` (both ``AdmissionRejected``)."""
    if cause is RejectionCause.RATE_LIMITED:
        return RateLimited(cause, name)
    return BulkheadFull(cause, name)
