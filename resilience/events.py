"""Decision traces and event hooks: what the policies decided, and when."""

from __future__ import annotations

import enum
from typing import NamedTuple, Protocol

__all__ = ["EventKind", "Listener", "TraceEvent"]


class EventKind(enum.Enum):
    """Kinds of decision events, in the order a request may see them."""

    REQUEST = "request"  # a logical request began; value = deadline seconds left (inf if none)
    ATTEMPT = "attempt"  # an attempt leaves; label = bound (attempt/deadline/none), value = its timeout
    OUTCOME = "outcome"  # an attempt ended; label = outcome kind, value = duration, evidence
    WAIT = "wait"  # the retry waits; label = backoff/retry_after/retry_after_clamped, value = delay
    REJECTED = "rejected"  # refused locally, not an attempt; label = breaker_open/budget_exhausted
    SUCCESS = "success"  # the request succeeded; value = end-to-end latency
    GIVE_UP = "give_up"  # the request failed; label = reason, value = latency, evidence = last seen
    STATE = "state"  # a breaker changed state; label = "from->to"


class TraceEvent(NamedTuple):
    """One decision. Traces from different drivers compare equal field by field."""

    time: float
    kind: EventKind
    attempt: int
    label: str = ""
    value: float = 0.0
    evidence: str = ""


class Listener(Protocol):
    """Receives every decision event of the component called ``source``."""

    def __call__(self, source: str, event: TraceEvent) -> None: ...
