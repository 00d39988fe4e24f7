"""Resilience for Python calls: one-line retries and breakers over decisions without I/O.

The front door is here: ``retry``, ``attempts``, the retrying callers,
``breaker``, the exceptions, testing mode and the on/off switch. The
sans-I/O machinery (pipelines, executions, steps, events, drivers, every
policy) is in ``resilience.core``; its names are still reachable here for
now, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import core, instrumentation, testing
from ._config import ConfigError
from .admission.keyed import KeyedRateLimiter
from .admission.rejection import BulkheadFull, RateLimited
from .backoff import ConstantBackoff, ExponentialBackoff, FullJitter
from .breaker import BreakerConfig, BreakerState
from .breaking import breaker
from .clock import ManualClock
from .deadline import Deadline, deadline_scope
from .errors import (
    BreakerOpen,
    BudgetExhausted,
    DeadlineExceeded,
    Refused,
    RequestFailed,
    RetriesExhausted,
)
from .retrying import AsyncRetryingCaller, RetryingCaller, RetryOptions, attempts, retry
from .switches import is_active, set_active

__all__ = [
    "AsyncRetryingCaller",
    "BreakerConfig",
    "BreakerOpen",
    "BreakerState",
    "BudgetExhausted",
    "BulkheadFull",
    "ConfigError",
    "ConstantBackoff",
    "Deadline",
    "DeadlineExceeded",
    "ExponentialBackoff",
    "FullJitter",
    "KeyedRateLimiter",
    "ManualClock",
    "RateLimited",
    "Refused",
    "RequestFailed",
    "RetriesExhausted",
    "RetryOptions",
    "RetryingCaller",
    "attempts",
    "breaker",
    "core",
    "deadline_scope",
    "instrumentation",
    "is_active",
    "retry",
    "set_active",
    "testing",
]


def __getattr__(name: str) -> Any:
    """Yesterday's top-level names: still importable, with a ``DeprecationWarning``."""
    if name in core.__all__:
        warnings.warn(
            f"resilience.{name} moved to resilience.core.{name}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(core, name)
    raise AttributeError(f"module 'resilience' has no attribute {name!r}")
