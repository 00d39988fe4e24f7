"""Circuit breakers: states, config, sliding windows, trip rule, state machine, the breaker and a registry."""

from __future__ import annotations

from .breaker import CircuitBreaker, StateListener
from .config import BreakerConfig, WindowType
from .machine import Transition
from .open_wait import BreakDuration
from .registry import BreakerRegistry
from .snapshot import CALL_KINDS, BreakerCounts, BreakerMetrics
from .state import ALLOWED_TRANSITIONS, AUTOMATIC_TRANSITIONS, MANUAL_TRANSITIONS, BreakerState
from .window import CountWindow, TimeWindow, Window, WindowTotals

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AUTOMATIC_TRANSITIONS",
    "BreakDuration",
    "BreakerConfig",
    "BreakerCounts",
    "BreakerMetrics",
    "BreakerRegistry",
    "BreakerState",
    "CALL_KINDS",
    "CircuitBreaker",
    "CountWindow",
    "MANUAL_TRANSITIONS",
    "StateListener",
    "TimeWindow",
    "Transition",
    "Window",
    "WindowTotals",
    "WindowType",
]
