"""Scenarios in Python: from_dict/to_dict and to_toml round trips, dotted-path overrides (``with_``)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest

from resilience._config import Config
from resilience.breaker import BreakerConfig
from resilience.budget import TokenBucketBudgetConfig
from resilience.retry import RetryConfig
from sim import (
    ClientGroup,
    ClosedLoop,
    Exponential,
    Link,
    Mixture,
    MixtureComponent,
    Scenario,
    ScenarioError,
    Service,
    load_scenario,
    scenario_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    [*ROOT.glob("scenarios/*.toml"), *ROOT.glob("scenarios/truth/*.toml"), *ROOT.glob("sim/scenarios/*.toml")]
)
STORM = ROOT / "scenarios" / "retry_storm.toml"
RESILIENT = ROOT / "scenarios" / "retry_storm_resilient.toml"


def _ids(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_the_shipped_scenarios_are_found() -> None:
    names = {_ids(p) for p in SHIPPED}
    assert {
        "scenarios/retry_storm.toml",
        "scenarios/truth/mm1.toml",
        "sim/scenarios/retry_storm.toml",
    } <= names


# -- to_dict / from_dict -----------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=_ids)
def test_from_dict_round_trips_every_shipped_scenario(path: Path) -> None:
    sc = load_scenario(path)
    again = Scenario.from_dict(sc.to_dict())
    assert again == sc
    assert again.to_dict() == sc.to_dict()


def _parts(sc: Scenario) -> list[Config]:
    """Every config nested anywhere in ``sc`` (clients, services, links, faults, workloads, …)."""
    out: list[Config] = []

    def walk(v: Any) -> None:
        if isinstance(v, Config):
            out.append(v)
            for f in dataclasses.fields(v):  # type: ignore[arg-type]
                walk(getattr(v, f.name))
        elif isinstance(v, (tuple, list)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(sc)
    return out


def test_from_dict_round_trips_every_part_on_its_own() -> None:
    parts = [p for path in SHIPPED for p in _parts(load_scenario(path))]
    kinds = {type(p).__name__ for p in parts}
    assert {
        "ClientGroup",
        "Service",
        "Link",
        "LatencySpike",
        "Poisson",
        "BreakerConfig",
        "RetryConfig",
    } <= kinds
    assert any("Budget" in k for k in kinds)
    for part in parts:
        assert type(part).from_dict(part.to_dict()) == part, type(part).__name__


def test_client_group_from_dict_builds_breaker_and_budget() -> None:
    g = ClientGroup(
        target="api",
        breaker=BreakerConfig(window_size=20, minimum_calls=10),
        budget=TokenBucketBudgetConfig(capacity=17),
    )
    again = ClientGroup.from_dict(g.to_dict())
    assert isinstance(again.breaker, BreakerConfig) and again.breaker.minimum_calls == 10
    assert isinstance(again.budget, TokenBucketBudgetConfig) and again.budget.capacity == 17


def test_from_dict_reports_errors_with_dotted_paths() -> None:
    data = load_scenario(STORM).to_dict()
    data["clients"]["web"]["retry"]["max_attempts"] = 0
    with pytest.raises(
        ScenarioError, match=r"^<dict>: clients\.web\.retry\.max_attempts=0: must be in 1\.\.1000$"
    ):
        Scenario.from_dict(data)


# -- to_toml -----------------------------------------------------------------------------------
@pytest.mark.parametrize("defaults", [False, True], ids=["compact", "full"])
@pytest.mark.parametrize("path", SHIPPED, ids=_ids)
def test_to_toml_round_trips_every_shipped_scenario(path: Path, defaults: bool, tmp_path: Path) -> None:
    sc = load_scenario(path)
    out = sc.write_toml(tmp_path / "tuned.toml", defaults=defaults)
    assert load_scenario(out) == sc
    assert out.read_text(encoding="utf-8") == sc.to_toml(defaults=defaults)


def test_to_toml_leaves_out_unset_and_default_fields() -> None:
    sc = load_scenario(STORM)
    assert sc.clients["web"].breaker is None
    data = tomllib.loads(sc.to_toml())
    web = data["clients"]["web"]
    assert "breaker" not in web and "budget" not in web and "classifier" not in web and "fallback" not in web
    assert "operation" not in web and "idempotent" not in web  # equal to their defaults
    assert "epoch" not in data and "bin_width" not in data
    assert {"name", "duration", "warmup", "slo_latency"} <= set(data)  # always written
    assert web["retry"]["max_attempts"] == 5
    full = tomllib.loads(sc.to_toml(defaults=True))
    assert full["clients"]["web"]["operation"] == "call" and full["epoch"] == sc.epoch
    assert "breaker" not in full["clients"]["web"]  # TOML has no null


def test_to_toml_writes_a_changed_default_and_keeps_type_tags() -> None:
    sc = Scenario(
        name="t",
        warmup=1.0,
        slo_latency=0.5,
        epoch=0,
        clients={
            "c": ClientGroup(target="s", workload=ClosedLoop(think=Exponential()), breaker=BreakerConfig())
        },
        services={"s": Service(service_time=Mixture(components=(MixtureComponent(dist=Exponential()),)))},
        links={"l": Link()},
    )
    data = tomllib.loads(sc.to_toml())
    assert data["epoch"] == 0
    assert data["clients"]["c"]["workload"] == {"type": "closed", "think": {"type": "exponential"}}
    assert data["clients"]["c"]["breaker"] == {}  # set, all defaults: an empty table
    assert data["links"] == {"l": {}}
    assert scenario_from_dict(data) == sc


# -- with_ -------------------------------------------------------------------------------------
def test_with_changes_one_nested_field_and_nothing_else() -> None:
    sc = load_scenario(RESILIENT)
    tuned = sc.with_(**{"clients.web.breaker.failure_rate_threshold": 0.2})
    web = sc.clients["web"]
    by_hand = dataclasses.replace(
        sc,
        clients={
            "web": dataclasses.replace(
                web, breaker=dataclasses.replace(web.breaker, failure_rate_threshold=0.2)
            )
        },
    )
    assert tuned == by_hand and tuned != sc
    assert tuned.clients["web"].breaker.failure_rate_threshold == 0.2


def test_with_takes_several_paths_validated_together() -> None:
    sc = load_scenario(STORM)
    # each alone breaks a rule (the fault would end after the run); together they are valid
    tuned = sc.with_(**{"duration": 300.0, "faults[0].start": 200.0})
    assert tuned.duration == 300.0 and tuned.faults[0].start == 200.0
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.start=200\.0: must be < the scenario's duration"):
        sc.with_(**{"faults[0].start": 200.0})


def test_with_accepts_configs_and_whole_tables() -> None:
    sc = load_scenario(STORM)
    a = sc.with_(**{"clients.web.breaker": BreakerConfig(minimum_calls=7)})
    b = sc.with_(**{"clients.web.breaker": {"minimum_calls": 7}})
    assert a == b and a.clients["web"].breaker == BreakerConfig(minimum_calls=7)
    c = sc.with_(**{"clients.web.retry": RetryConfig(max_attempts=2)})
    assert c.clients["web"].retry == RetryConfig(max_attempts=2)
    added = sc.with_(**{"services.cache": {"workers": 2}})
    assert added.services["cache"] == Service(workers=2)
    assert sc.with_() is sc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "clients.web.breaker.failure_rate_threshold",
            0.2,
            r"^<retry-storm-naive>: clients\.web\.breaker\.failure_rate_threshold=0\.2: "
            r"table clients\.web\.breaker is absent",
        ),
        (
            "clients.web.retry.max_attempt",
            2,
            r"^<retry-storm-naive>: clients\.web\.retry\.max_attempt=2: unknown field `max_attempt` "
            r"in clients\.web\.retry; did you mean `max_attempts`\?",
        ),
        (
            "clients.web.retyr.max_attempts",
            2,
            r"unknown field `retyr` in clients\.web; did you mean `retry`\?",
        ),
        (
            "clients.mobile.target",
            "api",
            r"clients\.mobile is absent: no client group named `mobile` \(known: web\)",
        ),
        ("faults[4].start", 1.0, r"faults\[4\] is absent: faults has 1 item"),
        ("clients.web.retry.max_attempts", 0, r"clients\.web\.retry\.max_attempts=0: must be in 1\.\.1000$"),
        ("duration.x", 1, r"duration is a value, not a table"),
        ("clients..x", 1, r"must be a dotted path"),
    ],
)
def test_with_reports_bad_paths_and_values_in_file_form(path: str, value: object, message: str) -> None:
    sc = load_scenario(STORM)
    with pytest.raises(ScenarioError, match=message):
        sc.with_(**{path: value})


def test_with_reports_every_bad_path_at_once() -> None:
    sc = load_scenario(STORM)
    with pytest.raises(ScenarioError) as info:
        sc.with_(**{"clients.web.retyr.x": 1, "links.lan.los": 0.1})
    lines = str(info.value).splitlines()
    assert len(lines) == 2 and "retyr" in lines[0] and "`los`" in lines[1]


def test_parameters_are_dotted_paths_of_the_non_default_settings() -> None:
    sc = load_scenario(RESILIENT)
    p = sc.parameters()
    assert p["clients.web.breaker.minimum_calls"] == 10
    assert p["faults[0].factor"] == 4.0
    assert "clients.web.operation" not in p
    full = sc.parameters(defaults=True)
    assert full["clients.web.operation"] == "call"
    for path, value in p.items():  # every path is one with_ accepts, and setting its value changes nothing
        assert sc.with_(**{path: value}) == sc
