"""The sans-I/O machinery: policies told ``now`` and outcomes, executions, steps, events, drivers.

Everything the package exported at the top level before the front door
(``resilience.retry`` and friends) lives here, plus the drivers' step loop.
"""

from __future__ import annotations

from .._config import ConfigError
from ..admission import (
    AIMDConfig,
    AIMDLimit,
    Bulkhead,
    BulkheadConfig,
    ConcurrencyLimiter,
    GradientConfig,
    GradientLimit,
    TokenBucketConfig,
    TokenBucketRateLimiter,
)
from ..backoff import (
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
from ..breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from ..budget import (
    AdaptiveThrottle,
    AdaptiveThrottleConfig,
    BudgetConfig,
    GrpcRetryThrottle,
    GrpcRetryThrottleConfig,
    RatioBudget,
    RatioBudgetConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
)
from ..classify import Classifier, ClassifierConfig, parse_retry_after
from ..clock import Clock, ManualClock, MonotonicClock, SystemWallClock, WallClock
from ..deadline import Deadline, current_deadline, deadline_scope
from ..drivers import (
    AsyncDriver,
    BreakerOpenError,
    BudgetExhaustedError,
    DeadlineExceededError,
    RequestFailed,
    SyncDriver,
    http_result_classifier,
    resilient,
)
from ..drivers.loop import AsyncStepLoop, StepLoop
from ..events import EventKind, Listener, TraceEvent
from ..execution import Execution
from ..execution_policy import ExecutionPolicy
from ..fallback import Fallback, FallbackConfig, FallbackResult, Tier
from ..idempotency import IdempotencyConfig, IdempotencyStore, KeyState
from ..outcome import FailureReason, Outcome, OutcomeKind, TimeoutPhase, TimeoutSource
from ..pipeline import Pipeline
from ..pipeline_config import PipelineConfig
from ..protocols import BreakerLike, BudgetLike, Grant, Permit
from ..retry import RetryConfig
from ..rng import RandomSource
from ..steps import Attempt, Done, GiveUp, Step, Wait
from ..timeouts import LayeredTimeouts, PropagationConfig, TimeoutRecord, TimeoutRegistry

__all__ = [
    "AIMDConfig",
    "AIMDLimit",
    "AdaptiveThrottle",
    "AdaptiveThrottleConfig",
    "AdditiveJitter",
    "AsyncDriver",
    "AsyncStepLoop",
    "Attempt",
    "Backoff",
    "BreakerConfig",
    "BreakerLike",
    "BreakerOpenError",
    "BreakerRegistry",
    "BreakerState",
    "BudgetConfig",
    "BudgetExhaustedError",
    "BudgetLike",
    "Bulkhead",
    "BulkheadConfig",
    "CircuitBreaker",
    "Classifier",
    "ClassifierConfig",
    "Clock",
    "ConcurrencyLimiter",
    "ConfigError",
    "ConstantBackoff",
    "Deadline",
    "DeadlineExceededError",
    "DecorrelatedJitter",
    "Done",
    "EqualJitter",
    "EventKind",
    "Execution",
    "ExecutionPolicy",
    "ExponentialBackoff",
    "FailureReason",
    "Fallback",
    "FallbackConfig",
    "FallbackResult",
    "FullJitter",
    "GiveUp",
    "GradientConfig",
    "GradientLimit",
    "Grant",
    "GrpcRetryThrottle",
    "GrpcRetryThrottleConfig",
    "IdempotencyConfig",
    "IdempotencyStore",
    "Jitter",
    "KeyState",
    "LayeredTimeouts",
    "LinearBackoff",
    "Listener",
    "ManualClock",
    "MonotonicClock",
    "NoJitter",
    "Outcome",
    "OutcomeKind",
    "Permit",
    "Pipeline",
    "PipelineConfig",
    "PropagationConfig",
    "ProportionalJitter",
    "RandomSource",
    "RatioBudget",
    "RatioBudgetConfig",
    "RequestFailed",
    "RetryConfig",
    "Step",
    "StepLoop",
    "SyncDriver",
    "SystemWallClock",
    "Tier",
    "TimeoutPhase",
    "TimeoutRecord",
    "TimeoutRegistry",
    "TimeoutSource",
    "TokenBucketBudget",
    "TokenBucketBudgetConfig",
    "TokenBucketConfig",
    "TokenBucketRateLimiter",
    "TraceEvent",
    "Wait",
    "WallClock",
    "current_deadline",
    "deadline_scope",
    "http_result_classifier",
    "parse_retry_after",
    "resilient",
]
