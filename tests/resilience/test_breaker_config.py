"""BreakerConfig: every field's rule with its message, and plain-data round trips."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from resilience.breaker import BreakerConfig, WindowType
from resilience.core import ConfigError
from resilience.outcome import OutcomeKind


def _msg(field: str, value: str, text: str) -> str:
    return "^" + re.escape(f"BreakerConfig.{field}={value}: {text}") + "$"


CASES: list[tuple[dict[str, Any], str, str, str]] = [
    # kwargs, field, repr(value), rule text
    ({"window_type": "sliding"}, "window_type", "'sliding'", "must be one of count, time"),
    ({"window_size": 0}, "window_size", "0.0", "must be > 0 and finite"),
    ({"window_size": float("inf")}, "window_size", "inf", "must be > 0 and finite"),
    (
        {"window_size": 10.5},
        "window_size",
        "10.5",
        "must be a whole number of calls <= 1000000 for a count window",
    ),
    (
        {"window_size": 2_000_000, "minimum_calls": 1},
        "window_size",
        "2000000.0",
        "must be a whole number of calls <= 1000000 for a count window",
    ),
    ({"bucket_seconds": 0}, "bucket_seconds", "0.0", "must be > 0 and finite"),
    (
        {"window_type": "time", "window_size": 10, "bucket_seconds": 3},
        "bucket_seconds",
        "3.0",
        "must divide window_size (10.0) into whole buckets",
    ),
    (
        {"window_type": "time", "window_size": 1000, "bucket_seconds": 0.001},
        "bucket_seconds",
        "0.001",
        "must give at most 100000 buckets per window",
    ),
    ({"failure_rate_threshold": 0}, "failure_rate_threshold", "0.0", "must be in (0, 1]"),
    ({"failure_rate_threshold": 1.5}, "failure_rate_threshold", "1.5", "must be in (0, 1]"),
    ({"failure_rate_threshold": "half"}, "failure_rate_threshold", "'half'", "must be a number"),
    ({"slow_call_duration": 0}, "slow_call_duration", "0.0", "must be > 0 and finite"),
    ({"slow_call_rate_threshold": 0}, "slow_call_rate_threshold", "0.0", "must be in (0, 1]"),
    ({"slow_call_rate_threshold": 1.01}, "slow_call_rate_threshold", "1.01", "must be in (0, 1]"),
    ({"minimum_calls": 0}, "minimum_calls", "0", "must be >= 1"),
    ({"minimum_calls": 2.5}, "minimum_calls", "2.5", "must be an integer"),
    ({"minimum_calls": 101}, "minimum_calls", "101", "must be <= window_size (100) for a count window"),
    ({"wait_in_open": 0}, "wait_in_open", "0.0", "must be > 0 and finite"),
    ({"wait_multiplier": 0.5}, "wait_multiplier", "0.5", "must be >= 1 and finite"),
    ({"wait_multiplier": float("inf")}, "wait_multiplier", "inf", "must be >= 1 and finite"),
    ({"wait_max": 0}, "wait_max", "0.0", "must be > 0 and finite"),
    ({"wait_max": 30}, "wait_max", "30.0", "must be >= wait_in_open (60.0)"),
    ({"wait_multiplier": 2}, "wait_max", "None", "must be set when wait_multiplier > 1"),
    ({"wait_jitter": -0.1}, "wait_jitter", "-0.1", "must be in [0, 1]"),
    ({"wait_jitter": 1.5}, "wait_jitter", "1.5", "must be in [0, 1]"),
    ({"permitted_calls_in_half_open": 0}, "permitted_calls_in_half_open", "0", "must be >= 1"),
    (
        {"max_wait_in_half_open": -1},
        "max_wait_in_half_open",
        "-1.0",
        "must be >= 0 and finite (0 = unbounded)",
    ),
    ({"consecutive_failures": 0}, "consecutive_failures", "0", "must be >= 1"),
]


@pytest.mark.parametrize(("kwargs", "field", "value", "text"), CASES, ids=[f"{c[1]}={c[2]}" for c in CASES])
def test_every_rule_and_its_message(kwargs: dict[str, Any], field: str, value: str, text: str) -> None:
    with pytest.raises(ConfigError, match=_msg(field, value, text)) as info:
        BreakerConfig(**kwargs)
    assert info.value.field == field
    assert info.value.rule == text


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        (
            {"ignored_evidence": ["http_404", ""]},
            "ignored_evidence",
            "must be a list of non-empty evidence labels",
        ),
        ({"record_kinds": []}, "record_kinds", "must be a non-empty list of error, timeout, rejected"),
        (
            {"record_kinds": ["error", "success"]},
            "record_kinds",
            "must contain only error, timeout, rejected",
        ),
        (
            {"record_kinds": [OutcomeKind.CANCELLED]},
            "record_kinds",
            "must contain only error, timeout, rejected",
        ),
    ],
)
def test_list_field_rules(kwargs: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ConfigError, match=rf"^BreakerConfig\.{field}=.*: {re.escape(text)}$") as info:
        BreakerConfig(**kwargs)
    assert info.value.rule == text


def test_boundaries_that_are_allowed() -> None:
    allowed: list[dict[str, Any]] = [
        {"failure_rate_threshold": 1.0, "slow_call_rate_threshold": 1.0, "wait_jitter": 1.0},
        {"wait_jitter": 0.0, "max_wait_in_half_open": 0.0, "minimum_calls": 100, "window_size": 100},
        {"wait_multiplier": 1.0, "wait_max": 60.0},
        {"window_type": "time", "window_size": 10, "bucket_seconds": 0.1, "minimum_calls": 1000},
        {"window_type": "time", "window_size": 0.3, "bucket_seconds": 0.1},  # float-rounding of 0.3 / 0.1
    ]
    for kwargs in allowed:  # accepted and stored as given (the window type as its enum)
        c = BreakerConfig(**kwargs)
        expected = {**kwargs, **({"window_type": WindowType.TIME} if "window_type" in kwargs else {})}
        assert {k: getattr(c, k) for k in kwargs} == expected
        assert isinstance(c.window_type, WindowType)


def test_defaults_follow_resilience4j() -> None:
    c = BreakerConfig()
    assert (c.window_type, c.window_size, c.minimum_calls) == (WindowType.COUNT, 100, 100)
    assert (c.failure_rate_threshold, c.slow_call_rate_threshold, c.wait_in_open) == (0.5, 1.0, 60.0)
    assert c.permitted_calls_in_half_open == 10 and c.slow_call_duration is None
    assert c.record_kinds == (OutcomeKind.ERROR, OutcomeKind.TIMEOUT, OutcomeKind.REJECTED)


def test_normalises_lists_and_strings() -> None:
    c = BreakerConfig(window_type="time", window_size=10, record_kinds=["timeout", "error", "timeout"],
                      ignored_evidence=["http_404"])  # fmt: skip
    assert c.window_type is WindowType.TIME
    assert c.record_kinds == (OutcomeKind.TIMEOUT, OutcomeKind.ERROR)
    assert c.ignored_evidence == ("http_404",)
    assert c.buckets == 10
    hash(c)  # frozen and hashable


def test_round_trip_through_json() -> None:
    c = BreakerConfig(
        window_type="time",
        window_size=30,
        bucket_seconds=0.5,
        failure_rate_threshold=0.25,
        slow_call_duration=0.8,
        slow_call_rate_threshold=0.6,
        minimum_calls=20,
        wait_in_open=5,
        wait_multiplier=2,
        wait_max=60,
        wait_jitter=0.2,
        permitted_calls_in_half_open=3,
        max_wait_in_half_open=10,
        consecutive_failures=5,
        ignored_evidence=("http_404", "http_409"),
        record_kinds=("error", "timeout"),
    )
    data = json.loads(json.dumps(c.to_dict()))
    assert data["window_type"] == "time" and data["record_kinds"] == ["error", "timeout"]
    assert BreakerConfig.from_dict(data) == c
    assert BreakerConfig.from_dict(BreakerConfig().to_dict()) == BreakerConfig()


def test_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match=_msg("wait_duration", "5", "unknown field")):
        BreakerConfig.from_dict({"wait_duration": 5})
