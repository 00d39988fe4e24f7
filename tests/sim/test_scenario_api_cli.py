"""``--set PATH=VALUE``: parsing VALUE as TOML, errors in the scenario-file form, and ``rwb run --set``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from resilience.breaker import BreakerConfig
from sim import ScenarioError, load_scenario
from sim.cli import main
from sim.cli.common import add_set_option, apply_sets
from sim.scenario.overrides import parse_path, parse_value

ROOT = Path(__file__).resolve().parents[2]
MM1 = ROOT / "scenarios" / "truth" / "mm1.toml"
STORM = ROOT / "scenarios" / "retry_storm.toml"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.2", 0.2),
        ("3", 3),
        ("true", True),
        ('"a b"', "a b"),
        ("lan", "lan"),
        ("my-run.v2", "my-run.v2"),
        ("[1, 2]", [1, 2]),
        ("{ minimum_calls = 7 }", {"minimum_calls": 7}),
        ("inf", float("inf")),
    ],
)
def test_values_are_toml_and_bare_words_strings(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_a_value_that_is_neither_toml_nor_a_bare_word_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a TOML value"):
        parse_value("{ a = ")


def test_paths_split_into_names_and_indices() -> None:
    assert parse_path("faults[0].start") == ["faults", 0, "start"]
    assert parse_path("services.api.errors[1].probability") == ["services", "api", "errors", 1, "probability"]
    with pytest.raises(ValueError, match="dotted path"):
        parse_path("clients.web.")


def test_add_set_option_collects_repeated_sets() -> None:
    p = argparse.ArgumentParser()
    add_set_option(p)
    assert p.parse_args([]).set == []
    args = p.parse_args(["--set", "duration=30", "--set", "clients.web.link=lan"])
    assert args.set == ["duration=30", "clients.web.link=lan"]


def test_apply_sets_changes_the_scenario() -> None:
    sc = load_scenario(STORM)
    out = apply_sets(
        sc,
        ["clients.web.breaker={ minimum_calls = 7 }", "clients.web.breaker.wait_in_open=3", "name=tuned"],
        "s.toml",
    )
    assert out.clients["web"].breaker == BreakerConfig(minimum_calls=7, wait_in_open=3.0)
    assert out.name == "tuned" and out.services == sc.services
    assert apply_sets(sc, [], "s.toml") is sc and apply_sets(sc, None, "s.toml") is sc


def test_apply_sets_errors_are_in_the_file_form() -> None:
    sc = load_scenario(STORM)
    with pytest.raises(ScenarioError) as info:
        apply_sets(
            sc, ["oops", "clients.web.retry.max_attempts={", "clients.web.retry.max_attempts=0x"], "s.toml"
        )
    first, second = str(info.value).splitlines()  # the bare word 0x is a string: refused later, by type
    assert first == "s.toml: --set 'oops': must be PATH=VALUE"
    assert second.startswith("s.toml: clients.web.retry.max_attempts='{': is not a TOML value (")
    with pytest.raises(
        ScenarioError, match=r"^s\.toml: clients\.web\.retry\.max_attempts='0x': must be an integer$"
    ):
        apply_sets(sc, ["clients.web.retry.max_attempts=0x"], "s.toml")
    with pytest.raises(ScenarioError) as info:
        apply_sets(sc, ["clients.web.retry.max_attempts=0", "links.lan.loss=1.5"], "s.toml")
    assert str(info.value).splitlines() == [
        "s.toml: clients.web.retry.max_attempts=0: must be in 1..1000",
        "s.toml: links.lan.loss=1.5: must be in [0, 1)",
    ]


def test_setting_under_an_absent_table_names_the_table() -> None:
    sc = load_scenario(STORM)
    with pytest.raises(ScenarioError) as info:
        apply_sets(sc, ["clients.web.breaker.failure_rate_threshold=0.2"], "s.toml")
    e = info.value
    assert (e.source, e.path, e.value) == ("s.toml", "clients.web.breaker.failure_rate_threshold", 0.2)
    assert e.rule.startswith("table clients.web.breaker is absent (not set)")


def test_rwb_run_applies_sets(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", str(MM1), "--json", "--set", "duration=3000", "--set", "warmup=100", "--set", "name=short"]
    assert main(args) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["scenario"] == "short" and s["sim_seconds"] == 3000.0
    assert (
        main(["run", str(MM1), "--json", "--set", "duration=3000", "--set", "warmup=100", "--seed", "1"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["requests"] == s["requests"]  # only the name differs


def test_rwb_run_reports_set_errors_without_running(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(MM1), "--set", "duration=20", "--set", "clients.arrivals.retyr.max_attempts=2"])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"error: {MM1}: clients.arrivals.retyr.max_attempts=2: unknown field `retyr` in clients.arrivals;"
        " did you mean `retry`?"
    ]
    assert main(["run", str(MM1), "--set", "duration=20"]) == 2
    assert f"error: {MM1}: warmup=2000.0: must be < duration (20.0)" in capsys.readouterr().err
