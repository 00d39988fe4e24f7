"""Every admission, idempotency and fallback config: rules with their messages, and dict round-trips."""

from __future__ import annotations

from typing import Any

import pytest

from resilience._config import Config, ConfigError
from resilience.admission import AIMDConfig, BulkheadConfig, GradientConfig, TokenBucketConfig
from resilience.fallback import FallbackConfig
from resilience.idempotency import IdempotencyConfig

CASES: list[tuple[type[Config], dict[str, Any], str]] = [
    (BulkheadConfig, {"max_concurrent": 0}, "BulkheadConfig.max_concurrent=0: must be >= 1"),
    (BulkheadConfig, {"max_concurrent": 1.5}, "BulkheadConfig.max_concurrent=1.5: must be an integer"),
    (BulkheadConfig, {"max_waiting": -1}, "BulkheadConfig.max_waiting=-1: must be >= 0"),
    (BulkheadConfig, {"max_wait_time": -0.1}, "BulkheadConfig.max_wait_time=-0.1: must be >= 0 and finite"),
    (
        BulkheadConfig,
        {"max_wait_time": float("inf")},
        "BulkheadConfig.max_wait_time=inf: must be >= 0 and finite",
    ),
    (
        BulkheadConfig,
        {"max_waiting": 3},
        "BulkheadConfig.max_wait_time=0.0: must be > 0 when max_waiting > 0",
    ),
    (TokenBucketConfig, {"rate": 0}, "TokenBucketConfig.rate=0.0: must be > 0 and finite"),
    (TokenBucketConfig, {"burst": 0.5}, "TokenBucketConfig.burst=0.5: must be >= 1"),
    (TokenBucketConfig, {"burst": "10"}, "TokenBucketConfig.burst='10': must be a number"),
    (AIMDConfig, {"initial_limit": 0}, "AIMDConfig.initial_limit=0: must be >= 1"),
    (AIMDConfig, {"min_limit": 0}, "AIMDConfig.min_limit=0: must be >= 1"),
    (AIMDConfig, {"max_limit": 0}, "AIMDConfig.max_limit=0: must be >= 1"),
    (AIMDConfig, {"backoff_ratio": 0.4}, "AIMDConfig.backoff_ratio=0.4: must be in [0.5, 1)"),
    (AIMDConfig, {"backoff_ratio": 1.0}, "AIMDConfig.backoff_ratio=1.0: must be in [0.5, 1)"),
    (AIMDConfig, {"timeout": 0}, "AIMDConfig.timeout=0.0: must be > 0 and finite"),
    (AIMDConfig, {"min_limit": 30, "max_limit": 20}, "AIMDConfig.min_limit=30: must be <= max_limit (20)"),
    (AIMDConfig, {"initial_limit": 300}, "AIMDConfig.initial_limit=300: must be in [1, 200]"),
    (GradientConfig, {"initial_limit": 0}, "GradientConfig.initial_limit=0: must be >= 1"),
    (GradientConfig, {"min_limit": 0}, "GradientConfig.min_limit=0: must be >= 1"),
    (GradientConfig, {"max_limit": 0}, "GradientConfig.max_limit=0: must be >= 1"),
    (GradientConfig, {"smoothing": 0}, "GradientConfig.smoothing=0.0: must be in (0, 1]"),
    (GradientConfig, {"smoothing": 1.5}, "GradientConfig.smoothing=1.5: must be in (0, 1]"),
    (GradientConfig, {"rtt_tolerance": 0.9}, "GradientConfig.rtt_tolerance=0.9: must be >= 1 and finite"),
    (GradientConfig, {"queue_size": -1}, "GradientConfig.queue_size=-1: must be >= 0"),
    (GradientConfig, {"backoff_ratio": 1}, "GradientConfig.backoff_ratio=1.0: must be in (0, 1)"),
    (GradientConfig, {"probe_interval": -5}, "GradientConfig.probe_interval=-5: must be >= 0 (0: never)"),
    (
        GradientConfig,
        {"min_limit": 9, "max_limit": 5},
        "GradientConfig.min_limit=9: must be <= max_limit (5)",
    ),
    (
        GradientConfig,
        {"initial_limit": 2, "min_limit": 3},
        "GradientConfig.initial_limit=2: must be in [3, 200]",
    ),
    (IdempotencyConfig, {"ttl": 0}, "IdempotencyConfig.ttl=0.0: must be > 0 and finite"),
    (IdempotencyConfig, {"pending_ttl": -1}, "IdempotencyConfig.pending_ttl=-1.0: must be > 0 and finite"),
    (IdempotencyConfig, {"retry_after": 0}, "IdempotencyConfig.retry_after=0.0: must be > 0 and finite"),
    (
        IdempotencyConfig,
        {"ttl": 10, "pending_ttl": 20},
        "IdempotencyConfig.pending_ttl=20.0: must be <= ttl (10.0)",
    ),
    (FallbackConfig, {"stale_if_error": 0}, "FallbackConfig.stale_if_error=0.0: must be > 0 and finite"),
    (FallbackConfig, {"max_entries": 0}, "FallbackConfig.max_entries=0: must be >= 1"),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), CASES)
def test_rule_messages(cls: type[Config], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    assert str(info.value) == message


def test_fallback_skip_reasons_must_be_failure_reasons() -> None:
    with pytest.raises(ConfigError) as info:
        FallbackConfig(skip_reasons=frozenset({"cancelled", "bogus"}))
    assert str(info.value).startswith("FallbackConfig.skip_reasons=")
    assert "must be failure reasons: breaker_open, budget_exhausted, cancelled" in str(info.value)


@pytest.mark.parametrize(
    "config",
    [
        BulkheadConfig(max_concurrent=4, max_waiting=8, max_wait_time=0.25),
        TokenBucketConfig(rate=5.0, burst=20.0),
        AIMDConfig(initial_limit=10, min_limit=2, max_limit=50, backoff_ratio=0.75, timeout=2.0),
        GradientConfig(initial_limit=8, queue_size=3, probe_interval=0, rtt_tolerance=1.5),
        IdempotencyConfig(ttl=3600.0, pending_ttl=30.0, retry_after=0.5),
        FallbackConfig(
            stale_if_error=60.0, max_entries=5, skip_reasons=frozenset({"cancelled", "breaker_open"})
        ),
    ],
)
def test_round_trip(config: Config) -> None:
    data = config.to_dict()
    assert type(config).from_dict(data) == config


def test_limit_configs_carry_a_type_tag_and_build_their_algorithm() -> None:
    assert AIMDConfig().to_dict()["type"] == "aimd"
    assert GradientConfig().to_dict()["type"] == "gradient"
    assert AIMDConfig(initial_limit=7).build().limit == 7
    assert GradientConfig(initial_limit=9).build().limit == 9
    with pytest.raises(ConfigError, match=r"AIMDConfig\.type='gradient': must be 'aimd'"):
        AIMDConfig.from_dict({"type": "gradient"})
