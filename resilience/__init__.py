"""Resilience primitives as decisions without I/O, plus thin sync and asyncio drivers."""

from __future__ import annotations

from ._config import ConfigError
from .backoff import (
    AdditiveJitter,
    Backoff,
    ConstantBackoff,
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FullJitter,
    Jitter,
    LinearBackoff,
    NoJitter,
    ProportionalJitter,
)
from .classify import Classifier, ClassifierConfig, parse_retry_after
from .clock import Clock, ManualClock, MonotonicClock, SystemWallClock, WallClock
from .deadline import Deadline, current_deadline, deadline_scope
from .events import EventKind, Listener, TraceEvent
from .execution import Execution
from .outcome import FailureReason, Outcome, OutcomeKind, TimeoutPhase, TimeoutSource
from .pipeline import Pipeline
from .protocols import BreakerLike, BudgetLike
from .retry import RetryConfig
from .rng import RandomSource
from .steps import Attempt, Done, GiveUp, Step, Wait

__all__ = [
    "AdditiveJitter",
    "Attempt",
    "Backoff",
    "BreakerLike",
    "BudgetLike",
    "Classifier",
    "ClassifierConfig",
    "Clock",
    "ConfigError",
    "ConstantBackoff",
    "Deadline",
    "DecorrelatedJitter",
    "Done",
    "EqualJitter",
    "EventKind",
    "Execution",
    "ExponentialBackoff",
    "FailureReason",
    "FullJitter",
    "GiveUp",
    "Jitter",
    "LinearBackoff",
    "Listener",
    "ManualClock",
    "MonotonicClock",
    "NoJitter",
    "Outcome",
    "OutcomeKind",
    "Pipeline",
    "ProportionalJitter",
    "RandomSource",
    "RetryConfig",
    "Step",
    "SystemWallClock",
    "TimeoutPhase",
    "TimeoutSource",
    "TraceEvent",
    "Wait",
    "WallClock",
    "current_deadline",
    "deadline_scope",
    "parse_retry_after",
]
