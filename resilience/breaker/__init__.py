"""Circuit breakers: states, config, sliding windows, the breaker and a registry by name."""

from __future__ import annotations

from .breaker import CircuitBreaker, StateListener
from .config import BreakerConfig, WindowType
from .registry import BreakerRegistry
from .snapshot import BreakerMetrics
from .state import ALLOWED_TRANSITIONS, AUTOMATIC_TRANSITIONS, BreakerState
from .window import CountWindow, TimeWindow, Window, WindowTotals

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AUTOMATIC_TRANSITIONS",
    "BreakerConfig",
    "BreakerMetrics",
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "CountWindow",
    "StateListener",
    "TimeWindow",
    "Window",
    "WindowTotals",
    "WindowType",
]
