"""Config validation (every field's rule, with its message) and plain-data round trips."""

from __future__ import annotations

import enum
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from resilience._config import Config, non_negative, positive, rule
from resilience.core import (
    AdditiveJitter,
    ClassifierConfig,
    ConfigError,
    ConstantBackoff,
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FullJitter,
    LinearBackoff,
    NoJitter,
    ProportionalJitter,
    RetryConfig,
)

# ---------------------------------------------------------------------------
# a tiny TOML writer (the standard library only reads TOML)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        items = ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None)
        return "{ " + items + " }"
    raise TypeError(f"no TOML form for {v!r}")


def to_toml(data: Mapping[str, Any], table: str = "") -> str:
    """TOML text for plain data; ``None`` values are left out (TOML has no null)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append((f"{table}.{key}" if table else key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    out = ([f"[{table}]"] if table else []) + lines
    text = "\n".join(out) + "\n"
    for name, sub in tables:
        text += "\n" + to_toml(sub, name)
    return text


# ---------------------------------------------------------------------------
# every field's rule, with its exact message

Case = tuple[Callable[[], object], str]
JITTER = "must be a Jitter (additive, decorrelated, equal, full, none, proportional)"
SQLSTATE = "must be SQLSTATE codes (5 chars) or classes (2 chars)"

RULES: list[Case] = [
    # RetryConfig
    (lambda: RetryConfig(max_attempts=0), "RetryConfig.max_attempts=0: must be in 1..1000"),
    (lambda: RetryConfig(max_attempts=1001), "RetryConfig.max_attempts=1001: must be in 1..1000"),
    (lambda: RetryConfig(max_attempts="3"), "RetryConfig.max_attempts='3': must be an integer"),
    (lambda: RetryConfig(max_attempts=True), "RetryConfig.max_attempts=True: must be an integer"),
    (lambda: RetryConfig(max_attempts=2.0), "RetryConfig.max_attempts=2.0: must be an integer"),
    (lambda: RetryConfig(attempt_timeout=0), "RetryConfig.attempt_timeout=0.0: must be > 0 and finite"),
    (lambda: RetryConfig(attempt_timeout=-1.0), "RetryConfig.attempt_timeout=-1.0: must be > 0 and finite"),
    (
        lambda: RetryConfig(attempt_timeout=math.inf),
        "RetryConfig.attempt_timeout=inf: must be > 0 and finite",
    ),
    (lambda: RetryConfig(attempt_timeout=math.nan), "RetryConfig.attempt_timeout=nan: must not be NaN"),
    (lambda: RetryConfig(attempt_timeout="1s"), "RetryConfig.attempt_timeout='1s': must be null or a number"),
    (lambda: RetryConfig(timeout=0.0), "RetryConfig.timeout=0.0: must be > 0 and finite"),
    (lambda: RetryConfig(timeout=math.inf), "RetryConfig.timeout=inf: must be > 0 and finite"),
    (lambda: RetryConfig(timeout=False), "RetryConfig.timeout=False: must be null or a number"),
    (
        lambda: RetryConfig(attempt_timeout=2.0, timeout=1.0),
        "RetryConfig.attempt_timeout=2.0: must be <= timeout (1.0)",
    ),
    (
        lambda: RetryConfig(backoff=FullJitter()),
        "RetryConfig.backoff=FullJitter(): must be a Backoff (constant, exponential, linear)",
    ),
    (
        lambda: RetryConfig(backoff={"type": "constant"}),
        "RetryConfig.backoff={'type': 'constant'}: must be a Backoff (constant, exponential, linear)",
    ),
    (lambda: RetryConfig(honor_retry_after=1), "RetryConfig.honor_retry_after=1: must be true or false"),
    (lambda: RetryConfig(max_retry_after=-0.5), "RetryConfig.max_retry_after=-0.5: must be >= 0 and finite"),
    (
        lambda: RetryConfig(max_retry_after=math.inf),
        "RetryConfig.max_retry_after=inf: must be >= 0 and finite",
    ),
    (lambda: RetryConfig(max_retry_after=None), "RetryConfig.max_retry_after=None: must be a number"),
    # ClassifierConfig
    (
        lambda: ClassifierConfig(transient_statuses=503),
        "ClassifierConfig.transient_statuses=503: must be a list",
    ),
    (
        lambda: ClassifierConfig(transient_statuses=("503",)),
        "ClassifierConfig.transient_statuses=('503',): must be a list of integers",
    ),
    (
        lambda: ClassifierConfig(transient_statuses=(99,)),
        "ClassifierConfig.transient_statuses=(99,): must be HTTP status codes 100..599",
    ),
    (
        lambda: ClassifierConfig(transient_statuses=(503, 600)),
        "ClassifierConfig.transient_statuses=(503, 600): must be HTTP status codes 100..599",
    ),
    (
        lambda: ClassifierConfig(rejected_statuses=(True,)),
        "ClassifierConfig.rejected_statuses=(True,): must be a list of integers",
    ),
    (
        lambda: ClassifierConfig(rejected_statuses=(600,)),
        "ClassifierConfig.rejected_statuses=(600,): must be HTTP status codes 100..599",
    ),
    (
        lambda: ClassifierConfig(rejected_statuses=(404, 503)),
        "ClassifierConfig.rejected_statuses=(404, 503): [404] must also be transient_statuses",
    ),
    (
        lambda: ClassifierConfig(transient_sqlstates=("4000",)),
        "ClassifierConfig.transient_sqlstates=('4000',): " + SQLSTATE,
    ),
    (
        lambda: ClassifierConfig(transient_sqlstates=("40 01",)),
        "ClassifierConfig.transient_sqlstates=('40 01',): " + SQLSTATE,
    ),
    (
        lambda: ClassifierConfig(transient_sqlstates=(40001,)),
        "ClassifierConfig.transient_sqlstates=(40001,): must be a list of strings",
    ),
    (
        lambda: ClassifierConfig(transient_exceptions=("",)),
        "ClassifierConfig.transient_exceptions=('',): must be qualified class names",
    ),
    (
        lambda: ClassifierConfig(transient_exceptions="builtins.OSError"),
        "ClassifierConfig.transient_exceptions='builtins.OSError': must be a list",
    ),
    (
        lambda: ClassifierConfig(honor_retryable_header="yes"),
        "ClassifierConfig.honor_retryable_header='yes': must be true or false",
    ),
    # backoff curves
    (lambda: ConstantBackoff(base=-0.1), "ConstantBackoff.base=-0.1: must be >= 0 and finite"),
    (lambda: ConstantBackoff(base=math.inf), "ConstantBackoff.base=inf: must be >= 0 and finite"),
    (lambda: ConstantBackoff(base="1"), "ConstantBackoff.base='1': must be a number"),
    (
        lambda: ConstantBackoff(jitter="full"),
        "ConstantBackoff.jitter='full': " + JITTER,
    ),
    (lambda: LinearBackoff(base=-1.0), "LinearBackoff.base=-1.0: must be >= 0 and finite"),
    (lambda: LinearBackoff(step=-1.0), "LinearBackoff.step=-1.0: must be >= 0 and finite"),
    (lambda: LinearBackoff(step=math.inf), "LinearBackoff.step=inf: must be >= 0 and finite"),
    (lambda: LinearBackoff(cap=0.0), "LinearBackoff.cap=0.0: must be > 0 and finite"),
    (lambda: LinearBackoff(cap=math.inf), "LinearBackoff.cap=inf: must be > 0 and finite"),
    (lambda: LinearBackoff(base=2.0, cap=1.0), "LinearBackoff.cap=1.0: must be >= base (2.0)"),
    (
        lambda: LinearBackoff(jitter=None),
        "LinearBackoff.jitter=None: " + JITTER,
    ),
    (lambda: ExponentialBackoff(base=0.0), "ExponentialBackoff.base=0.0: must be > 0 and finite"),
    (lambda: ExponentialBackoff(base=math.nan), "ExponentialBackoff.base=nan: must not be NaN"),
    (lambda: ExponentialBackoff(multiplier=0.5), "ExponentialBackoff.multiplier=0.5: must be >= 1"),
    (lambda: ExponentialBackoff(cap=-1.0), "ExponentialBackoff.cap=-1.0: must be > 0 and finite"),
    (lambda: ExponentialBackoff(base=2.0, cap=1.0), "ExponentialBackoff.cap=1.0: must be >= base (2.0)"),
    (lambda: ExponentialBackoff(first_exponent=-1), "ExponentialBackoff.first_exponent=-1: must be in 0..64"),
    (lambda: ExponentialBackoff(first_exponent=65), "ExponentialBackoff.first_exponent=65: must be in 0..64"),
    (
        lambda: ExponentialBackoff(first_exponent=1.5),
        "ExponentialBackoff.first_exponent=1.5: must be an integer",
    ),
    (
        lambda: ExponentialBackoff(jitter=0.1),
        "ExponentialBackoff.jitter=0.1: " + JITTER,
    ),
    # jitters
    (lambda: ProportionalJitter(ratio=-0.1), "ProportionalJitter.ratio=-0.1: must be in [0, 1]"),
    (lambda: ProportionalJitter(ratio=1.5), "ProportionalJitter.ratio=1.5: must be in [0, 1]"),
    (lambda: ProportionalJitter(ratio="10%"), "ProportionalJitter.ratio='10%': must be a number"),
    (lambda: AdditiveJitter(amount=-1.0), "AdditiveJitter.amount=-1.0: must be >= 0 and finite"),
    (lambda: AdditiveJitter(amount=math.inf), "AdditiveJitter.amount=inf: must be >= 0 and finite"),
]


@pytest.mark.parametrize(("build", "message"), RULES, ids=[m.split(":")[0] for _, m in RULES])
def test_field_rule_message(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value) == message


def test_config_error_carries_its_parts() -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig(max_attempts=0)
    err = info.value
    assert (err.config, err.field, err.value, err.rule) == (
        "RetryConfig",
        "max_attempts",
        0,
        "must be in 1..1000",
    )
    assert isinstance(err, ValueError)


def test_boundary_values_are_accepted() -> None:
    assert RetryConfig(max_attempts=1).max_attempts == 1
    assert RetryConfig(max_attempts=1000).max_attempts == 1000
    assert RetryConfig(attempt_timeout=1.0, timeout=1.0).attempt_timeout == 1.0
    assert RetryConfig(max_retry_after=0.0).max_retry_after == 0.0
    assert ExponentialBackoff(multiplier=1.0, first_exponent=64).first_exponent == 64
    assert LinearBackoff(base=1.0, cap=1.0).cap == 1.0
    assert ProportionalJitter(ratio=0.0).ratio == 0.0 and ProportionalJitter(ratio=1.0).ratio == 1.0
    assert ClassifierConfig(transient_statuses=(100, 599), rejected_statuses=()).transient_statuses == (
        100,
        599,
    )


def test_ints_become_floats_and_lists_become_tuples() -> None:
    r = RetryConfig(attempt_timeout=1, timeout=2, max_retry_after=3)
    assert type(r.attempt_timeout) is float and type(r.timeout) is float and type(r.max_retry_after) is float
    c = ClassifierConfig(transient_statuses=[500, 503], rejected_statuses=[503])
    assert c.transient_statuses == (500, 503) and c.rejected_statuses == (503,)
    hash(c)  # tuples keep the frozen config hashable


def test_configs_are_frozen() -> None:
    r = RetryConfig()
    with pytest.raises(AttributeError):
        r.max_attempts = 5  # type: ignore[misc]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class _Sample(Config):
    color: Color = Color.RED
    colors: tuple[Color, ...] = ()
    weights: tuple[float, ...] = ()
    rate: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    floor: float | None = field(default=None, metadata=rule(non_negative, "must be >= 0 and finite"))


def test_enum_fields_take_their_values() -> None:
    s = _Sample(color="blue", colors=["red", "blue"], weights=[1, 2.5])  # type: ignore[arg-type]
    assert s.color is Color.BLUE and s.colors == (Color.RED, Color.BLUE)
    assert s.weights == (1.0, 2.5) and all(type(w) is float for w in s.weights)
    assert s.to_dict() == {
        "color": "blue",
        "colors": ["red", "blue"],
        "weights": [1.0, 2.5],
        "rate": 1.0,
        "floor": None,
    }
    assert _Sample.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match=r"^_Sample.color='green': must be one of red, blue$"):
        _Sample(color="green")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"^_Sample.colors=\('red', 'green'\): must be a list of red, blue$"
    ):
        _Sample(colors=("red", "green"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^_Sample.weights=\(1, 'x'\): must be a list of numbers$"):
        _Sample(weights=(1, "x"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^_Sample.floor=-1.0: must be >= 0 and finite$"):
        _Sample(floor=-1.0)
    assert _Sample(floor=None).floor is None


# ---------------------------------------------------------------------------
# from_dict errors


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig.from_dict({"max_attempt": 3})
    assert str(info.value) == "RetryConfig.max_attempt=3: unknown field"


def test_unknown_key_in_a_nested_config_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig.from_dict({"backoff": {"type": "exponential", "bsae": 0.2}})
    assert str(info.value) == "ExponentialBackoff.bsae=0.2: unknown field"


def test_root_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig.from_dict([("max_attempts", 3)])  # type: ignore[arg-type]
    assert str(info.value) == "RetryConfig.<root>=[('max_attempts', 3)]: must be a table/mapping"


def test_polymorphic_type_tag_is_required_and_checked() -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig.from_dict({"backoff": {"base": 1.0}})
    assert str(info.value) == "RetryConfig.backoff.type=None: must be one of constant, exponential, linear"
    with pytest.raises(ConfigError) as info:
        RetryConfig.from_dict({"backoff": {"type": "fibonacci"}})
    assert (
        str(info.value)
        == "RetryConfig.backoff.type='fibonacci': must be one of constant, exponential, linear"
    )
    with pytest.raises(ConfigError) as info:
        ExponentialBackoff.from_dict({"jitter": {"type": "gaussian"}})
    assert str(info.value) == (
        "ExponentialBackoff.jitter.type='gaussian': "
        "must be one of additive, decorrelated, equal, full, none, proportional"
    )
    with pytest.raises(ConfigError) as info:
        ExponentialBackoff.from_dict({"type": "linear"})
    assert str(info.value) == "ExponentialBackoff.type='linear': must be 'exponential'"


def test_rules_apply_to_values_from_dicts() -> None:
    with pytest.raises(ConfigError) as info:
        RetryConfig.from_dict({"backoff": {"type": "linear", "base": 3, "cap": 2}})
    assert str(info.value) == "LinearBackoff.cap=2.0: must be >= base (3.0)"


def test_to_dict_is_plain_data_with_type_tags() -> None:
    r = RetryConfig(
        max_attempts=4,
        attempt_timeout=0.5,
        backoff=ExponentialBackoff(base=0.05, cap=2.0, jitter=ProportionalJitter(ratio=0.2)),
    )
    assert r.to_dict() == {
        "max_attempts": 4,
        "attempt_timeout": 0.5,
        "timeout": None,
        "backoff": {
            "type": "exponential",
            "base": 0.05,
            "multiplier": 2.0,
            "cap": 2.0,
            "first_exponent": 0,
            "jitter": {"type": "proportional", "ratio": 0.2},
        },
        "honor_retry_after": True,
        "max_retry_after": 60.0,
    }
    assert ClassifierConfig().to_dict()["transient_statuses"] == [408, 429, 500, 502, 503, 504]


# ---------------------------------------------------------------------------
# round trips: dict, JSON, TOML

SAMPLES: list[Config] = [
    RetryConfig(),
    RetryConfig(max_attempts=1, honor_retry_after=False, max_retry_after=0.0),
    RetryConfig(max_attempts=5, attempt_timeout=0.2, timeout=2.0, backoff=ConstantBackoff(base=0.3)),
    RetryConfig(backoff=LinearBackoff(base=0.0, step=0.25, cap=1.0, jitter=AdditiveJitter(amount=0.05))),
    RetryConfig(
        backoff=ExponentialBackoff(base=0.1, multiplier=3.0, cap=5.0, first_exponent=1, jitter=EqualJitter())
    ),
    RetryConfig(backoff=ExponentialBackoff(jitter=DecorrelatedJitter())),
    RetryConfig(backoff=ExponentialBackoff(jitter=NoJitter())),
    RetryConfig(backoff=ExponentialBackoff(jitter=ProportionalJitter(ratio=1.0))),
    ClassifierConfig(),
    ClassifierConfig(
        transient_statuses=(500, 503),
        rejected_statuses=(),
        transient_sqlstates=("08", "40001", "57014"),
        transient_exceptions=("socket.gaierror", "ssl.SSLError"),
        honor_retryable_header=False,
    ),
    ExponentialBackoff(),
    ConstantBackoff(base=0.0, jitter=FullJitter()),
    LinearBackoff(),
    FullJitter(),
    AdditiveJitter(amount=0.0),
]


@pytest.mark.parametrize("config", SAMPLES, ids=repr)
def test_round_trip_through_dict(config: Config) -> None:
    again = type(config).from_dict(config.to_dict())
    assert again == config
    assert type(again) is type(config)
    assert again.to_dict() == config.to_dict()


@pytest.mark.parametrize("config", SAMPLES, ids=repr)
def test_round_trip_through_json(config: Config) -> None:
    text = json.dumps(config.to_dict())
    assert type(config).from_dict(json.loads(text)) == config


@pytest.mark.parametrize("config", SAMPLES, ids=repr)
def test_round_trip_through_toml(config: Config) -> None:
    text = to_toml(config.to_dict())
    again = type(config).from_dict(tomllib.loads(text))
    assert again == config
    assert type(again) is type(config)


def test_nested_types_survive_the_round_trip() -> None:
    r = RetryConfig(backoff=ExponentialBackoff(jitter=DecorrelatedJitter()))
    again = RetryConfig.from_dict(tomllib.loads(to_toml(r.to_dict())))
    assert type(again.backoff) is ExponentialBackoff
    assert type(again.backoff.jitter) is DecorrelatedJitter


def test_hand_written_toml_loads() -> None:
    text = """
max_attempts = 4
attempt_timeout = 0.25
timeout = 2

[backoff]
type = "exponential"
base = 0.05
cap = 1
jitter = { type = "full" }
"""
    r = RetryConfig.from_dict(tomllib.loads(text))
    assert r == RetryConfig(
        max_attempts=4,
        attempt_timeout=0.25,
        timeout=2.0,
        backoff=ExponentialBackoff(base=0.05, cap=1.0, jitter=FullJitter()),
    )
    assert type(r.timeout) is float


def test_toml_helper_writes_what_tomllib_reads() -> None:
    data = {"a": 1, "b": [1.5, 2.0], "c": 'x"y', "d": {"e": True, "f": {"g": -math.inf}}, "n": None}
    assert tomllib.loads(to_toml(data)) == {
        "a": 1,
        "b": [1.5, 2.0],
        "c": 'x"y',
        "d": {"e": True, "f": {"g": -math.inf}},
    }
