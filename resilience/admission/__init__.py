"""Admission control: bulkhead, token-bucket rate limiters (one bucket, or one per key), adaptive
concurrency limits."""

from .aimd import AIMDConfig, AIMDLimit
from .bulkhead import (
    ADMITTED,
    Admitted,
    AsyncBulkhead,
    Bulkhead,
    BulkheadConfig,
    Queued,
    SyncBulkhead,
    Ticket,
    TicketState,
)
from .gradient import GradientConfig, GradientLimit
from .keyed import KeyedRateLimiter, KeyedRateLimiterConfig
from .limiter import ConcurrencyLimiter, FixedLimit, LimitAlgorithm, LimiterToken
from .rate_limit import TokenBucketConfig, TokenBucketRateLimiter
from .rejection import AdmissionRejected, Rejected, RejectionCause

__all__ = [
    "ADMITTED",
    "AIMDConfig",
    "AIMDLimit",
    "AdmissionRejected",
    "Admitted",
    "AsyncBulkhead",
    "Bulkhead",
    "BulkheadConfig",
    "ConcurrencyLimiter",
    "FixedLimit",
    "GradientConfig",
    "GradientLimit",
    "KeyedRateLimiter",
    "KeyedRateLimiterConfig",
    "LimitAlgorithm",
    "LimiterToken",
    "Queued",
    "Rejected",
    "RejectionCause",
    "SyncBulkhead",
    "Ticket",
    "TicketState",
    "TokenBucketConfig",
    "TokenBucketRateLimiter",
]
