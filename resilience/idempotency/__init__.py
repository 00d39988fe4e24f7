"""Idempotency keys: a TTL store with a pending → succeeded | failed state machine."""

from .call import (
    IdempotencyError,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    ReplayedFailure,
    async_idempotent_call,
    idempotent_call,
)
from .states import TRANSITIONS, IllegalTransition, KeyState, can_transition, check_transition
from .store import (
    BeginResult,
    CasResult,
    IdempotencyConfig,
    IdempotencyRecord,
    IdempotencyStore,
    InProgress,
    KeyConflict,
    New,
    Replay,
)

__all__ = [
    "BeginResult",
    "CasResult",
    "IdempotencyConfig",
    "IdempotencyError",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "IdempotencyRecord",
    "IdempotencyStore",
    "IllegalTransition",
    "InProgress",
    "KeyConflict",
    "KeyState",
    "New",
    "Replay",
    "ReplayedFailure",
    "TRANSITIONS",
    "async_idempotent_call",
    "can_transition",
    "check_transition",
    "idempotent_call",
]
