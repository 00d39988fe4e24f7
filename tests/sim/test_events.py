"""The number of simulated events is part of the (deterministic) summary; wall-clock figures are not."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import simpy

from sim import load_scenario, run

STORM = Path(__file__).resolve().parents[2] / "scenarios" / "retry_storm.toml"


def short() -> object:
    return dataclasses.replace(load_scenario(STORM), duration=40.0)


def test_the_summary_counts_every_processed_event(monkeypatch: pytest.MonkeyPatch) -> None:
    counted = [0]
    step = simpy.Environment.step

    def counting(self: simpy.Environment) -> None:  # an independent count of processed events
        step(self)
        counted[0] += 1

    monkeypatch.setattr(simpy.Environment, "step", counting)
    r = run(short(), 1)  # type: ignore[arg-type]
    assert "events" in r.summary
    assert r.summary["events"] == counted[0] > 10_000


def test_events_are_deterministic_and_timing_stays_out_of_the_summary() -> None:
    a, b = run(short(), 1), run(short(), 1)  # type: ignore[arg-type]
    assert "events" in a.summary
    assert a.summary["events"] == b.summary["events"]
    assert a.summary == b.summary and a.to_json() == b.to_json()
    assert "timing" not in a.summary and "timing" not in json.loads(a.to_json())
    timed = json.loads(a.to_json(timing=True))
    assert set(timed) == set(a.summary) | {"timing"}
    assert timed["timing"]["wall_seconds"] > 0
    assert timed["timing"]["events_per_second"] == pytest.approx(
        a.summary["events"] / a.timing["wall_seconds"]
    )
