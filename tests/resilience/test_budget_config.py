"""Retry-budget configs: every field's rule, round trips, the polymorphic base, build()."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from resilience._config import Config, ConfigError
from resilience.budget import (
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

BAD: list[tuple[type[Config], dict[str, Any], str, object, str]] = [
    # (config, other kwargs, field, bad value, rule text)
    (TokenBucketBudgetConfig, {}, "capacity", 0, "must be in 1..1000000000"),
    (TokenBucketBudgetConfig, {}, "capacity", 10**9 + 1, "must be in 1..1000000000"),
    (TokenBucketBudgetConfig, {}, "capacity", 2.5, "must be an integer"),
    (TokenBucketBudgetConfig, {}, "capacity", True, "must be an integer"),
    (TokenBucketBudgetConfig, {}, "retry_cost", 0, "must be in 1..1000000000"),
    (TokenBucketBudgetConfig, {}, "retry_cost", "5", "must be an integer"),
    (TokenBucketBudgetConfig, {}, "retry_cost", 501, "must be <= capacity (500)"),
    (TokenBucketBudgetConfig, {}, "timeout_cost", 0, "must be in 1..1000000000"),
    (TokenBucketBudgetConfig, {"capacity": 8}, "timeout_cost", 10, "must be <= capacity (8)"),
    (TokenBucketBudgetConfig, {}, "no_retry_increment", -1, "must be in 0..1000000000"),
    (TokenBucketBudgetConfig, {"capacity": 20}, "no_retry_increment", 21, "must be <= capacity (20)"),
    (RatioBudgetConfig, {}, "ttl", 0.5, "must be in [1, 60] seconds"),
    (RatioBudgetConfig, {}, "ttl", 61.0, "must be in [1, 60] seconds"),
    (RatioBudgetConfig, {}, "ttl", math.nan, "must not be NaN"),
    (RatioBudgetConfig, {}, "ttl", "10s", "must be a number"),
    (RatioBudgetConfig, {}, "min_retries_per_second", -1.0, "must be >= 0 and finite"),
    (RatioBudgetConfig, {}, "min_retries_per_second", math.inf, "must be >= 0 and finite"),
    (RatioBudgetConfig, {}, "percent_can_retry", -0.1, "must be in [0, 1000]"),
    (RatioBudgetConfig, {}, "percent_can_retry", 1000.5, "must be in [0, 1000]"),
    (RatioBudgetConfig, {}, "buckets", 0, "must be in 1..1000"),
    (RatioBudgetConfig, {}, "buckets", 1001, "must be in 1..1000"),
    (RatioBudgetConfig, {}, "buckets", 1.5, "must be an integer"),
    (GrpcRetryThrottleConfig, {}, "max_tokens", 0, "must be in 1..1000"),
    (GrpcRetryThrottleConfig, {}, "max_tokens", 1001, "must be in 1..1000"),
    (GrpcRetryThrottleConfig, {}, "max_tokens", 10.5, "must be an integer"),
    (
        GrpcRetryThrottleConfig,
        {},
        "token_ratio",
        0.0,
        "must be in (0, 1000000] with at most 3 decimal places",
    ),
    (
        GrpcRetryThrottleConfig,
        {},
        "token_ratio",
        -0.1,
        "must be in (0, 1000000] with at most 3 decimal places",
    ),
    (
        GrpcRetryThrottleConfig,
        {},
        "token_ratio",
        0.1234,
        "must be in (0, 1000000] with at most 3 decimal places",
    ),
    (
        GrpcRetryThrottleConfig,
        {},
        "token_ratio",
        0.0001,
        "must be in (0, 1000000] with at most 3 decimal places",
    ),
    (
        GrpcRetryThrottleConfig,
        {},
        "token_ratio",
        math.inf,
        "must be in (0, 1000000] with at most 3 decimal places",
    ),
    (AdaptiveThrottleConfig, {}, "window", 0.0, "must be in (0, 86400] seconds"),
    (AdaptiveThrottleConfig, {}, "window", 86401.0, "must be in (0, 86400] seconds"),
    (AdaptiveThrottleConfig, {}, "buckets", 0, "must be in 1..10000"),
    (AdaptiveThrottleConfig, {}, "buckets", 10001, "must be in 1..10000"),
    (AdaptiveThrottleConfig, {}, "k", 0.99, "must be in [1, 1000000]"),
    (AdaptiveThrottleConfig, {}, "k", math.inf, "must be in [1, 1000000]"),
]


@pytest.mark.parametrize(("cls", "others", "name", "value", "text"), BAD)
def test_each_field_rule_is_enforced_with_its_message(
    cls: type[Config], others: dict[str, Any], name: str, value: object, text: str
) -> None:
    with pytest.raises(ConfigError) as err:
        cls(**{**others, name: value})
    assert str(err.value) == f"{cls.__name__}.{name}={value!r}: {text}"
    assert (err.value.field, err.value.rule) == (name, text)


def test_boundary_values_are_accepted() -> None:
    allowed: list[tuple[type[Config], dict[str, Any]]] = [
        (
            TokenBucketBudgetConfig,
            {"capacity": 1, "retry_cost": 1, "timeout_cost": 1, "no_retry_increment": 0},
        ),
        (
            TokenBucketBudgetConfig,
            {"capacity": 10, "retry_cost": 10, "timeout_cost": 10, "no_retry_increment": 10},
        ),
        (RatioBudgetConfig, {"ttl": 1, "min_retries_per_second": 0, "percent_can_retry": 0, "buckets": 1}),
        (RatioBudgetConfig, {"ttl": 60, "percent_can_retry": 1000, "buckets": 1000}),
        (GrpcRetryThrottleConfig, {"max_tokens": 1, "token_ratio": 0.001}),
        (GrpcRetryThrottleConfig, {"max_tokens": 1000, "token_ratio": 1.6}),
        (AdaptiveThrottleConfig, {"window": 86400, "buckets": 10000, "k": 1}),
    ]
    for cls, kwargs in allowed:  # accepted and stored as given
        c = cls(**kwargs)
        assert {k: getattr(c, k) for k in kwargs} == kwargs, cls.__name__


def test_defaults_are_the_reference_implementations_defaults() -> None:
    aws = TokenBucketBudgetConfig()
    assert (aws.capacity, aws.retry_cost, aws.timeout_cost, aws.no_retry_increment) == (500, 5, 10, 1)
    fin = RatioBudgetConfig()
    assert (fin.ttl, fin.min_retries_per_second, fin.percent_can_retry) == (10.0, 10.0, 0.2)
    assert fin.reserve == 100.0
    grpc = GrpcRetryThrottleConfig()
    assert (grpc.max_tokens, grpc.token_ratio) == (10, 0.1)
    sre = AdaptiveThrottleConfig()
    assert (sre.window, sre.k) == (120.0, 2.0)


def test_int_given_for_a_float_field_is_stored_as_float() -> None:
    cfg = RatioBudgetConfig(ttl=5, min_retries_per_second=2, percent_can_retry=1)
    assert isinstance(cfg.ttl, float) and isinstance(cfg.percent_can_retry, float)


CONFIGS: list[BudgetConfig] = [
    TokenBucketBudgetConfig(),
    TokenBucketBudgetConfig(capacity=50, retry_cost=3, timeout_cost=7, no_retry_increment=0),
    RatioBudgetConfig(),
    RatioBudgetConfig(ttl=30, min_retries_per_second=0.5, percent_can_retry=1.5, buckets=30),
    GrpcRetryThrottleConfig(),
    GrpcRetryThrottleConfig(max_tokens=100, token_ratio=1.625),
    AdaptiveThrottleConfig(),
    AdaptiveThrottleConfig(window=30, buckets=15, k=1.1),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: repr(c))
def test_round_trip_through_plain_data_and_json(cfg: BudgetConfig) -> None:
    data = cfg.to_dict()
    assert data["type"] == cfg.kind
    assert type(cfg).from_dict(data) == cfg
    assert type(cfg).from_dict(json.loads(json.dumps(data))) == cfg


@dataclass(frozen=True, slots=True)
class _Holder(Config):
    """A config with a polymorphic budget field, as a user's settings would have."""

    budget: BudgetConfig = field(default_factory=TokenBucketBudgetConfig)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: repr(c))
def test_polymorphic_field_round_trips_by_type_tag(cfg: BudgetConfig) -> None:
    holder = _Holder(budget=cfg)
    back = _Holder.from_dict(json.loads(json.dumps(holder.to_dict())))
    assert back == holder
    assert type(back.budget) is type(cfg)


def test_the_four_kinds_are_distinct_tags() -> None:
    kinds = {type(c).kind for c in CONFIGS}
    assert kinds == {"token_bucket", "ratio", "grpc", "adaptive"}


def test_unknown_type_tag_lists_the_known_kinds() -> None:
    with pytest.raises(ConfigError) as err:
        _Holder.from_dict({"budget": {"type": "leaky"}})
    assert str(err.value) == "_Holder.budget.type='leaky': must be one of adaptive, grpc, ratio, token_bucket"


def test_polymorphic_field_rejects_a_non_budget_value() -> None:
    with pytest.raises(ConfigError) as err:
        _Holder(budget="token_bucket")  # type: ignore[arg-type]
    assert err.value.field == "budget"
    assert err.value.rule.startswith("must be a BudgetConfig")


def test_unknown_field_and_wrong_tag_are_errors() -> None:
    with pytest.raises(ConfigError) as err:
        RatioBudgetConfig.from_dict({"type": "ratio", "ttl_seconds": 5})
    assert str(err.value) == "RatioBudgetConfig.ttl_seconds=5: unknown field"
    with pytest.raises(ConfigError) as err:
        RatioBudgetConfig.from_dict({"type": "grpc"})
    assert str(err.value) == "RatioBudgetConfig.type='grpc': must be 'ratio'"


def test_from_dict_validates_like_the_constructor() -> None:
    with pytest.raises(ConfigError) as err:
        GrpcRetryThrottleConfig.from_dict({"type": "grpc", "max_tokens": 0})
    assert str(err.value) == "GrpcRetryThrottleConfig.max_tokens=0: must be in 1..1000"


def test_budget_config_base_is_abstract() -> None:
    with pytest.raises(TypeError):
        BudgetConfig()  # type: ignore[abstract]


def test_configs_are_frozen() -> None:
    cfg = TokenBucketBudgetConfig()
    with pytest.raises(AttributeError):
        cfg.capacity = 1  # type: ignore[misc]


def test_build_makes_the_matching_budget_with_its_name() -> None:
    rng = random.Random(1)
    expected = [TokenBucketBudget, RatioBudget, GrpcRetryThrottle, AdaptiveThrottle]
    for cfg, cls in zip(CONFIGS[::2], expected, strict=True):
        budget = cfg.build(rng, name="payments")
        assert type(budget) is cls
        assert budget.name == "payments"  # type: ignore[attr-defined]
        assert budget.config is cfg  # type: ignore[attr-defined]


def test_adaptive_throttle_requires_an_rng() -> None:
    with pytest.raises(ValueError, match="an rng is required"):
        AdaptiveThrottleConfig().build()
