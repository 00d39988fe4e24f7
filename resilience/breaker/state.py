"""Circuit breaker states and the transitions between them."""

from __future__ import annotations

import enum

__all__ = ["ALLOWED_TRANSITIONS", "AUTOMATIC_TRANSITIONS", "BreakerState"]


class BreakerState(enum.Enum):
    """Where a breaker is. Values are the ``state`` label of ``resilience_breaker_state``."""

    CLOSED = "closed"  # calls pass; outcomes fill the window; a trip opens it
    OPEN = "open"  # calls are rejected until the open wait is over
    HALF_OPEN = "half_open"  # a few probe calls decide: close or open again
    FORCED_OPEN = "forced_open"  # an operator's hold: everything is rejected until reset
    DISABLED = "disabled"  # bypassed: everything passes, nothing is recorded


_C, _O, _H, _F, _D = (
    BreakerState.CLOSED,
    BreakerState.OPEN,
    BreakerState.HALF_OPEN,
    BreakerState.FORCED_OPEN,
    BreakerState.DISABLED,
)

AUTOMATIC_TRANSITIONS: frozenset[tuple[BreakerState, BreakerState]] = frozenset(
    {(_C, _O), (_O, _H), (_H, _C), (_H, _O)}
)
"""Transitions the breaker takes on its own (trip, wait over, probes judged, half-open timeout)."""

ALLOWED_TRANSITIONS: frozenset[tuple[BreakerState, BreakerState]] = AUTOMATIC_TRANSITIONS | frozenset(
    {(s, _F) for s in BreakerState if s is not _F}
    | {(s, _D) for s in BreakerState if s is not _D}
    | {(s, _C) for s in BreakerState if s is not _C}
)
"""Automatic transitions plus the manual ones: ``force_open``, ``disable`` and ``reset`` from anywhere."""
