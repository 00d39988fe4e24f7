"""The number of simulated events is part of the (deterministic) summary; wall-clock figures are not."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import simpy
from simpy.core import StopSimulation

import sim.engine
from sim import load_scenario, run
from sim.stepper import Stepped

STORM = Path(__file__).resolve().parents[2] / "scenarios" / "retry_storm.toml"


def short() -> object:
    return dataclasses.replace(load_scenario(STORM), duration=40.0)


def test_the_summary_counts_every_processed_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run loop (SimPy's ``peek``/``step`` inlined) against SimPy's own ``step``, counted apart."""
    counted = [0]
    step = simpy.Environment.step

    def counting(self: simpy.Environment) -> None:  # an independent count of processed events
        step(self)
        counted[0] += 1

    def public_loop(env: simpy.Environment, until: float, **_: object) -> Stepped:
        try:
            while env.peek() < until:
                env.step()
        except StopSimulation:
            return Stepped(counted[0], 0.0)
        env.run(until=until)
        return Stepped(counted[0], 0.0)

    ours = run(short(), 1)  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(simpy.Environment, "step", counting)
        m.setattr(sim.engine, "advance", public_loop)
        reference = run(short(), 1)  # type: ignore[arg-type]
    assert "events" in ours.summary
    assert ours.summary["events"] == counted[0] > 10_000
    assert ours.to_json() == reference.to_json() and ours.series == reference.series


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
