"""The outcome vocabulary: what one attempt produced, as the policies see it."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["FailureReason", "Outcome", "OutcomeKind", "TimeoutPhase", "TimeoutSource"]


class OutcomeKind(enum.Enum):
    """What an attempt produced."""

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    REJECTED = "rejected"  # the server shed the call (429, 503)
    CANCELLED = "cancelled"  # the caller gave up; never retried, never recorded as failure


class TimeoutPhase(enum.Enum):
    """Which bound fired."""

    CONNECT = "connect"
    READ_HEADER = "read_header"
    READ = "read"
    WRITE = "write"
    IDLE = "idle"
    ATTEMPT = "attempt"
    DEADLINE = "deadline"


class TimeoutSource(enum.Enum):
    """The component whose deadline fired."""

    CLIENT = "client"
    GATEWAY = "gateway"
    BACKEND = "backend"


class FailureReason(enum.Enum):
    """Why a logical request ended without success: the final decision."""

    DEADLINE_EXCEEDED = "deadline_exceeded"
    RETRIES_EXHAUSTED = "retries_exhausted"
    PERMANENT_ERROR = "permanent_error"
    BREAKER_OPEN = "breaker_open"
    BUDGET_EXHAUSTED = "budget_exhausted"
    NOT_IDEMPOTENT = "not_idempotent"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result as evidence for the policies.

    ``evidence`` is a short stable label for what was seen (``ok``, ``timeout``,
    ``http_503``, ``sqlstate_40001``, ``connection_refused`` …); metrics and
    breaker filters use it.
    """

    kind: OutcomeKind
    retryable: bool = False
    evidence: str = "ok"
    retry_after: float | None = None  # seconds the server asked us to wait: >= 0 and finite
    phase: TimeoutPhase | None = None

    def __post_init__(self) -> None:
        hint = self.retry_after
        if hint is not None and not (isinstance(hint, (int, float)) and 0.0 <= hint < math.inf):
            raise ValueError(f"Outcome.retry_after={hint!r}: must be a number of seconds >= 0 and finite")

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.SUCCESS

    @staticmethod
    def success(evidence: str = "ok") -> Outcome:
        return SUCCESS if evidence == "ok" else Outcome(OutcomeKind.SUCCESS, False, evidence)

    @staticmethod
    def timeout(phase: TimeoutPhase = TimeoutPhase.ATTEMPT) -> Outcome:
        return _TIMEOUTS[phase]

    @staticmethod
    def error(evidence: str, *, retryable: bool, retry_after: float | None = None) -> Outcome:
        return Outcome(OutcomeKind.ERROR, retryable, evidence, retry_after)

    @staticmethod
    def rejected(evidence: str, *, retry_after: float | None = None) -> Outcome:
        return Outcome(OutcomeKind.REJECTED, True, evidence, retry_after)


SUCCESS = Outcome(OutcomeKind.SUCCESS)
CANCELLED = Outcome(OutcomeKind.CANCELLED, False, "cancelled")
_TIMEOUTS = {p: Outcome(OutcomeKind.TIMEOUT, True, "timeout", None, p) for p in TimeoutPhase}
