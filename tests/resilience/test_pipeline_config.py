"""PipelineConfig: its field rules, its dict/JSON/TOML round trip, and the pipeline it builds."""

from __future__ import annotations

import json
import random
import tomllib
from typing import Any

import pytest
from test_config import to_toml

from resilience.breaker import CircuitBreaker
from resilience.budget import AdaptiveThrottle, TokenBucketBudget
from resilience.core import (
    AdaptiveThrottleConfig,
    BreakerConfig,
    ClassifierConfig,
    ConfigError,
    ConstantBackoff,
    DecorrelatedJitter,
    ExponentialBackoff,
    Outcome,
    PipelineConfig,
    RatioBudgetConfig,
    RetryConfig,
    TokenBucketBudgetConfig,
    Wait,
)

KINDS = "adaptive, grpc, ratio, token_bucket"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry": 5}, "PipelineConfig.retry=5: must be a RetryConfig"),
        ({"retry": None}, "PipelineConfig.retry=None: must be a RetryConfig"),
        ({"breaker": "x"}, "PipelineConfig.breaker='x': must be null or a BreakerConfig"),
        ({"budget": 3}, f"PipelineConfig.budget=3: must be null or a BudgetConfig ({KINDS})"),
        ({"budget": BreakerConfig()}, "PipelineConfig.budget=BreakerConfig("),
        ({"classifier": None}, "PipelineConfig.classifier=None: must be a ClassifierConfig"),
    ],
)
def test_every_field_rule_and_its_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        PipelineConfig(**kwargs)
    assert str(info.value).startswith(message)
    if not message.endswith("("):
        assert str(info.value) == message


def test_nested_rules_apply_to_values_from_dicts() -> None:
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_dict({"breaker": {"failure_rate_threshold": 1.5}})
    assert str(info.value) == "BreakerConfig.failure_rate_threshold=1.5: must be in (0, 1]"
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_dict({"budget": {"type": "nope"}})
    assert str(info.value).startswith("PipelineConfig.budget.type=")


TUNED = PipelineConfig(
    retry=RetryConfig(
        max_attempts=4,
        attempt_timeout=0.5,
        timeout=2.0,
        backoff=ExponentialBackoff(base=0.05, cap=1.0, jitter=DecorrelatedJitter()),
        max_retry_after=3.0,
    ),
    breaker=BreakerConfig(window_type="time", window_size=10, bucket_seconds=1, minimum_calls=20),
    budget=RatioBudgetConfig(percent_can_retry=0.1),
    classifier=ClassifierConfig(transient_statuses=(500, 503), rejected_statuses=(503,)),
)
SAMPLES = [PipelineConfig(), TUNED, PipelineConfig(budget=AdaptiveThrottleConfig(k=1.5))]


@pytest.mark.parametrize("config", SAMPLES, ids=repr)
def test_round_trip_through_dict_json_and_toml(config: PipelineConfig) -> None:
    data = config.to_dict()
    assert PipelineConfig.from_dict(data) == config
    assert PipelineConfig.from_dict(json.loads(json.dumps(data))) == config
    again = PipelineConfig.from_dict(tomllib.loads(to_toml(data)))
    assert again == config and type(again.budget) is type(config.budget)


def test_build_makes_fresh_policy_objects_named_after_the_edge() -> None:
    config = PipelineConfig(
        retry=RetryConfig(max_attempts=2, backoff=ConstantBackoff(base=0.25)),
        breaker=BreakerConfig(),
        budget=TokenBucketBudgetConfig(capacity=50),
    )
    a = config.build(name="shop->inventory", rng=random.Random(1))
    b = config.build(name="shop->inventory", rng=random.Random(1))
    assert isinstance(a.breaker, CircuitBreaker) and a.breaker.name == "shop->inventory"
    assert isinstance(a.budget, TokenBucketBudget) and a.budget.name == "shop->inventory"
    assert a.breaker is not b.breaker and a.budget is not b.budget  # nothing shared between builds
    assert (a.name, a.policy.max_attempts, a.policy.name) == ("shop->inventory", 2, "shop->inventory")
    ex = a.begin(0.0)
    ex.next(0.0)
    step = ex.next(0.1, Outcome.timeout())
    assert isinstance(step, Wait) and (step.delay, step.cause) == (0.25, "backoff")
    assert a.budget.available(0.1) == 40  # the built budget was asked: a timeout retry costs 10


def test_build_passes_the_rng_to_a_budget_that_draws() -> None:
    config = PipelineConfig(budget=AdaptiveThrottleConfig())
    with pytest.raises(ValueError, match="an rng is required"):
        config.build()
    assert isinstance(config.build(rng=random.Random(1)).budget, AdaptiveThrottle)
