"""Circuit breaker states and the transitions between them.

``ALLOWED_TRANSITIONS`` is the breaker's transition table: the state machine
refuses any move that is not in it, automatic or manual.
"""

from __future__ import annotations

import enum

__all__ = ["ALLOWED_TRANSITIONS", "AUTOMATIC_TRANSITIONS", "MANUAL_TRANSITIONS", "BreakerState"]


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

MANUAL_TRANSITIONS: frozenset[tuple[BreakerState, BreakerState]] = frozenset(
    {(s, _F) for s in BreakerState if s is not _F}  # force_open
    | {(s, _D) for s in BreakerState if s is not _D}  # disable
    | {(s, _C) for s in BreakerState if s is not _C}  # reset
    | {(s, _O) for s in (_C, _H, _F, _D)}  # transition_to_open
    | {(s, _H) for s in (_O, _F, _D)}  # transition_to_half_open (not from CLOSED, as in resilience4j)
)
"""What an operator may do: ``force_open``, ``disable`` and ``reset`` from anywhere,
``transition_to_open`` from any other state, ``transition_to_half_open`` from a state that rejects
or bypasses (a closed breaker has nothing to probe)."""

ALLOWED_TRANSITIONS: frozenset[tuple[BreakerState, BreakerState]] = AUTOMATIC_TRANSITIONS | MANUAL_TRANSITIONS
"""The transition table: automatic and manual transitions."""
