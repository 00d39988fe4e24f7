"""Export configs from tuned resilience configs: each threshold with the field it came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resilience.breaker import BreakerConfig
from resilience.budget import (
    AdaptiveThrottleConfig,
    BudgetConfig,
    GrpcRetryThrottleConfig,
    RatioBudgetConfig,
    TokenBucketBudgetConfig,
)
from resilience.retry import RetryConfig

from .config import ExportConfig

__all__ = ["amplification_bound", "budget_floor", "from_policies", "max_open_wait"]


def max_open_wait(breaker: BreakerConfig) -> tuple[float, str]:
    """The longest open wait ``breaker`` can choose, and how it follows from the config."""
    base, text = (breaker.wait_max, "wait_max") if breaker.wait_max is not None else (
        breaker.wait_in_open, "wait_in_open")  # fmt: skip
    if breaker.wait_jitter:
        return base * (1 + breaker.wait_jitter), f"BreakerConfig.{text} x (1 + wait_jitter)"
    return base, f"BreakerConfig.{text}"


def amplification_bound(budget: BudgetConfig | None, retry: RetryConfig) -> tuple[float, str]:
    """Attempts per request the retry budget sustains once its reserve is spent.

    A token bucket refills ``no_retry_increment`` per first-attempt success and
    a retry costs ``retry_cost``: 1 + increment / cost. A ratio budget allows
    ``percent_can_retry`` retries per request (its fixed reserve aside). Budgets
    without a per-request ratio (gRPC, adaptive) and no budget fall back to
    ``max_attempts``, the hard bound.
    """
    if isinstance(budget, TokenBucketBudgetConfig):
        bound = 1 + budget.no_retry_increment / budget.retry_cost
        return bound, "1 + TokenBucketBudgetConfig.no_retry_increment / retry_cost"
    if isinstance(budget, RatioBudgetConfig):
        return 1 + budget.percent_can_retry, "1 + RatioBudgetConfig.percent_can_retry"
    return float(retry.max_attempts), "RetryConfig.max_attempts (the budget has no per-request ratio)"


def budget_floor(budget: BudgetConfig | None) -> tuple[float | None, str]:
    """Tokens (as ``resilience_budget_tokens`` reports them) below which no retry is granted."""
    if isinstance(budget, TokenBucketBudgetConfig):
        return float(budget.retry_cost), "TokenBucketBudgetConfig.retry_cost (one retry)"
    if isinstance(budget, RatioBudgetConfig):
        return 1.0, "one retry (RatioBudget reports whole retries)"
    if isinstance(budget, GrpcRetryThrottleConfig):
        # retries need token_count > max_tokens / 2; tokens move in steps of 0.001
        return budget.max_tokens / 2 + 0.001, "GrpcRetryThrottleConfig.max_tokens / 2 (+ 0.001)"
    if isinstance(budget, AdaptiveThrottleConfig):
        return 1.0, "one request of headroom (AdaptiveThrottle reports K x accepts - requests)"
    return None, "no retry budget"


def from_policies(
    edges: Sequence[str],
    *,
    breaker: BreakerConfig,
    retry: RetryConfig,
    budget: BudgetConfig | None = None,
    slo_target: float,
    slo_latency: float,
    **settings: Any,
) -> ExportConfig:
    """An ``ExportConfig`` whose thresholds are the tuned configs' values; ``settings`` override the rest.

    ``settings`` may carry ``sources`` entries of its own (pairs), kept after the derived ones.
    """
    wait, wait_src = max_open_wait(breaker)
    amp, amp_src = amplification_bound(budget, retry)
    floor, floor_src = budget_floor(budget)
    derived: dict[str, Any] = {
        "failure_rate_threshold": breaker.failure_rate_threshold,
        "max_open_wait": wait,
        "attempt_timeout": retry.attempt_timeout,
        "timeout": retry.timeout,
        "amplification_bound": amp,
        "budget_floor": floor,
        "slo_target": slo_target,
        "slo_latency": slo_latency,
    }
    sources = [
        ("failure_rate_threshold", "BreakerConfig.failure_rate_threshold"),
        ("max_open_wait", wait_src),
        ("attempt_timeout", "RetryConfig.attempt_timeout"),
        ("timeout", "RetryConfig.timeout"),
        ("amplification_bound", amp_src),
        ("budget_floor", floor_src),
        ("slo_target", "SLO availability target"),
        ("slo_latency", "SLO latency"),
    ]
    overridden = set(settings)
    sources = [(k, v) for k, v in sources if k not in overridden]
    sources.extend(tuple(p) for p in settings.pop("sources", ()))
    merged = {**derived, **settings}
    return ExportConfig(edges=tuple(edges), sources=tuple(sources), **merged)
