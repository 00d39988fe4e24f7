"""Retry budgets: limits on retries shared by every request to one target.

Each budget is its own type with its own config (all derive ``BudgetConfig``):

- ``TokenBucketBudget``: the AWS SDKs' standard-mode retry quota;
- ``RatioBudget``: Finagle's retries-per-request ratio over a sliding window;
- ``GrpcRetryThrottle``: gRPC retry throttling (gRFC A6);
- ``AdaptiveThrottle``: Google SRE client-side adaptive throttling.

All implement ``resilience.protocols.BudgetLike``, take ``now`` explicitly and
are thread-safe. A retry is granted as a ``Grant`` lease that is settled once:
by ``on_outcome`` when the retry ran, by ``refund`` when it never did; each
budget's docstring says what settling gives back. ``outstanding`` counts the
grants not yet settled.
"""

from ._base import BudgetConfig
from .adaptive import AdaptiveThrottle, AdaptiveThrottleConfig
from .grpc_throttle import GrpcRetryThrottle, GrpcRetryThrottleConfig
from .ratio import RatioBudget, RatioBudgetConfig
from .token_bucket import TokenBucketBudget, TokenBucketBudgetConfig

__all__ = [
    "AdaptiveThrottle",
    "AdaptiveThrottleConfig",
    "BudgetConfig",
    "GrpcRetryThrottle",
    "GrpcRetryThrottleConfig",
    "RatioBudget",
    "RatioBudgetConfig",
    "TokenBucketBudget",
    "TokenBucketBudgetConfig",
]
