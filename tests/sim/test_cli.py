"""``rwb run --json`` keys, ``--series``/``--bins`` files, ``rwb schema``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]

KEYS = {
    "scenario",
    "seed",
    "sim_seconds",
    "events",
    "requests",
    "attempts",
    "calls",
    "successes",
    "failures",
    "failure_evidence",
    "in_flight_at_end",
    "success_ratio",
    "goodput_ratio",
    "amplification",
    "latency_seconds",
    "degraded",
    "breakers",
    "recovery_seconds",
    "groups",
    "services",
}


def _scenario(tmp_path: Path) -> Path:
    text = (ROOT / "scenarios" / "retry_storm_resilient.toml").read_text(encoding="utf-8")
    p = tmp_path / "s.toml"
    p.write_text(text.replace("duration = 120.0", "duration = 50.0"), encoding="utf-8")
    return p


def test_run_json_has_every_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series, bins = tmp_path / "s.om", tmp_path / "b.csv"
    assert (
        main(
            [
                "run",
                str(_scenario(tmp_path)),
                "--seed",
                "3",
                "--json",
                "--series",
                str(series),
                "--bins",
                str(bins),
            ]
        )
        == 0
    )
    s = json.loads(capsys.readouterr().out)
    assert set(s) == KEYS | {"timing"}
    assert set(s["timing"]) == {"wall_seconds", "events_per_second"}
    assert s["events"] > s["attempts"] > 0
    assert s["seed"] == 3 and s["scenario"] == "retry-storm-resilient"
    assert set(s["latency_seconds"]) == {"mean", "p50", "p90", "p99", "p999"}
    assert set(s["calls"]) == {"web->api"} and set(s["calls"]["web->api"]) == {"call"}
    assert set(s["breakers"]["web->api"]) == {"opened", "open_seconds", "peak_open_fraction"}
    assert s["recovery_seconds"] is not None
    assert series.read_text(encoding="utf-8").endswith("# EOF\n")
    assert bins.read_text(encoding="utf-8").startswith("bin_start,bin_end,entity_kind,entity")


def test_run_reports_scenario_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(
        'duration = 0\nwarmup = 0\nslo_latency = 1\n[clients.web]\ntarget = "api"\n[services.api]\n',
        encoding="utf-8",
    )
    assert main(["run", str(p)]) == 2
    assert f"{p}: duration=0.0: must be > 0 and finite" in capsys.readouterr().err


def test_schema_describes_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    defs = schema["$defs"]
    assert {"Scenario", "ClientGroup", "Service", "Link", "RetryConfig", "Outage"} <= set(defs)
    assert defs["Scenario"]["properties"]["warmup"]["description"] == "must be >= 0 and finite"
    assert defs["Scenario"]["required"] == ["warmup", "slo_latency"]


def test_schema_accepts_the_shipped_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    import jsonschema

    main(["schema"])
    schema = json.loads(capsys.readouterr().out)
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        jsonschema.validate(tomllib.loads(path.read_text(encoding="utf-8")), schema)
