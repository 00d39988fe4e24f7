"""``load_latency.multiplier``: service time x f(u), u the busy-worker fraction when a call starts.

The formulas are the documented ones (``LoadLatency``'s docstring, stability-sim's
``applyLoadDependentLatency``): linear 1 + k*u, polynomial 1 + k*u**n, exponential e**(k*u). A
service is driven directly with calls that all arrive at t = 0 and a constant service time, so the
i-th call to start sees i busy workers and ends at base x f(i / workers).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import simpy

from sim import load_scenario, run, scenario_from_dict
from sim.model.calls import Op, Stage
from sim.model.service import ServiceRT
from sim.scenario.build import ScenarioError
from sim.scenario.distributions import Constant
from sim.scenario.spec import LoadLatency, Service

BASE = 0.5


class Call:
    """A call as the service sees it; records when it was answered."""

    def __init__(self, svc: ServiceRT) -> None:
        self.svc = svc
        self.op = Op.READ
        self.stage = Stage.QUEUED
        self.error: Any = None
        self.version = 0
        self.svc_arrival = self.svc_start = 0.0
        self.deadline = math.inf
        self.answered: float | None = None
        self.code: Any = "unanswered"

    def respond(self, code: Any, now: float) -> None:
        self.code, self.answered = code, now

    def served(self, _ev: object) -> None:
        self.svc.finish(self)


def _serve(ll: LoadLatency | None, *, workers: int = 10, calls: int = 10, queue: int = -1) -> list[Call]:
    env = simpy.Environment()
    cfg = Service(workers=workers, queue=queue, service_time=Constant(value=BASE), load_latency=ll)
    gen = np.random.default_rng(0)
    svc = ServiceRT(env, "s", cfg, gen, gen, 0.0)
    got = [Call(svc) for _ in range(calls)]
    for c in got:
        svc.arrive(c, 0.0)
    env.run()
    return got


@pytest.mark.parametrize(
    ("ll", "formula"),
    [
        (LoadLatency(multiplier="linear", factor=3.0), lambda u: 1 + 3.0 * u),
        (LoadLatency(multiplier="polynomial", factor=5.0, exponent=3.0), lambda u: 1 + 5.0 * u**3),
        (LoadLatency(multiplier="polynomial", factor=2.0), lambda u: 1 + 2.0 * u**2),  # exponent 2 by default
        (LoadLatency(multiplier="exponential", factor=4.0), lambda u: math.exp(4.0 * u)),
    ],
    ids=["linear", "polynomial-3", "polynomial-default", "exponential"],
)
def test_each_call_takes_base_times_the_formula_of_the_busy_fraction(ll: LoadLatency, formula: Any) -> None:
    got = _serve(ll)
    for i, c in enumerate(got, start=1):  # the i-th call starts with i workers busy (itself included)
        assert c.code is None
        assert c.answered == pytest.approx(BASE * formula(i / 10)), i


def test_queued_calls_do_not_count_and_a_started_call_keeps_its_time() -> None:
    # 4 workers, 6 calls: calls 1-4 start at 0 with u = 1/4..4/4; the first to end (call 1, at
    # BASE x 1.25) lets call 5 start at u = 4/4, and so on: u is busy workers, not calls in the service
    got = _serve(LoadLatency(multiplier="linear", factor=1.0), workers=4, calls=6)
    ends = [BASE * (1 + i / 4) for i in range(1, 5)]
    assert [c.answered for c in got[:4]] == pytest.approx(ends)
    assert got[4].answered == pytest.approx(ends[0] + BASE * 2.0)
    assert got[5].answered == pytest.approx(ends[1] + BASE * 2.0)


def test_the_fraction_is_over_the_capacity_in_force() -> None:
    env = simpy.Environment()
    ll = LoadLatency(multiplier="linear", factor=1.0)
    cfg = Service(workers=10, service_time=Constant(value=BASE), load_latency=ll)
    gen = np.random.default_rng(0)
    svc = ServiceRT(env, "s", cfg, gen, gen, 0.0)
    svc.drops.append(5)  # what a capacity_drop fault to 5 workers does (sim/model/faults.py)
    svc.set_capacity()
    c = Call(svc)
    svc.arrive(c, 0.0)
    env.run()
    assert c.answered == pytest.approx(BASE * (1 + 1 / 5))


def test_unlimited_workers_mean_no_multiplier() -> None:
    got = _serve(LoadLatency(multiplier="exponential", factor=4.0), workers=0, calls=3)
    assert [c.answered for c in got] == pytest.approx([BASE] * 3)


def test_multiplier_and_per_in_flight_combine() -> None:
    # multiplied first, then the seconds per call above the threshold are added
    ll = LoadLatency(per_in_flight=0.1, threshold=1, multiplier="linear", factor=1.0)
    got = _serve(ll, workers=10, calls=3)
    assert [c.answered for c in got] == pytest.approx(
        [BASE * (1 + i / 10) + 0.1 * max(0, i - 1) for i in (1, 2, 3)]
    )


def test_without_the_multiplier_service_times_are_unchanged() -> None:
    assert [c.answered for c in _serve(None)] == pytest.approx([BASE] * 10)
    per = _serve(LoadLatency(per_in_flight=0.1, threshold=2))
    assert [c.answered for c in per] == pytest.approx([BASE + 0.1 * max(0, i - 2) for i in range(1, 11)])


def test_a_zero_factor_changes_no_result_of_a_run() -> None:
    # The multiplier draws no random numbers: with factor 0 every figure of a run is the same.
    sc = load_scenario("scenarios/stability/gc_death_spiral.toml").with_(duration=15.0)
    plain = dataclasses.replace(sc.services["server"], load_latency=None)
    base = run(dataclasses.replace(sc, services={"server": plain}), seed=3)
    for mode in ("linear", "polynomial", "exponential"):
        zero = dataclasses.replace(plain, load_latency=LoadLatency(multiplier=mode, factor=0.0))
        got = run(dataclasses.replace(sc, services={"server": zero}), seed=3)
        assert got.goodput_per_second == base.goodput_per_second, mode
        assert got.summary == {**base.summary, "scenario": got.summary["scenario"]}, mode
    on = run(sc, seed=3)  # negative control: the file's factor 4 does change the run
    assert on.goodput_per_second != base.goodput_per_second


def _svc(ll: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "x",
        "duration": 10.0,
        "warmup": 0.0,
        "slo_latency": 1.0,
        "services": {"api": {"workers": 2, "load_latency": ll}},
        "clients": {"web": {"target": "api", "workload": {"type": "poisson", "rate": 1.0}}},
    }


@pytest.mark.parametrize(
    ("ll", "message"),
    [
        (
            {"multiplier": "cubic"},
            "services.api.load_latency.multiplier='cubic': must be linear, polynomial or exponential",
        ),
        ({"factor": 2.0}, "services.api.load_latency.factor=2.0: needs multiplier"),
        (
            {"multiplier": "linear", "factor": -1.0},
            "services.api.load_latency.factor=-1.0: must be >= 0 and finite",
        ),
        (
            {"multiplier": "polynomial", "factor": 1.0, "exponent": 0.0},
            "services.api.load_latency.exponent=0.0: must be > 0 and finite",
        ),
    ],
)
def test_bad_multipliers_are_named(ll: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(_svc(ll), source="x.toml")
    assert f"x.toml: {message}" in str(err.value)


def test_the_multiplier_round_trips_through_toml(tmp_path: Any) -> None:
    sc = scenario_from_dict(_svc({"multiplier": "polynomial", "factor": 5.0, "exponent": 3.0}), source="x")
    path = tmp_path / "x.toml"
    sc.write_toml(path)
    assert load_scenario(path) == sc
    assert load_scenario(path).services["api"].load_latency == LoadLatency(
        multiplier="polynomial", factor=5.0, exponent=3.0
    )


def _two_tiers(ll: dict[str, Any] | None) -> dict[str, Any]:
    db: dict[str, Any] = {"workers": 4, "service_time": {"type": "constant", "value": 0.01}}
    if ll is not None:
        db["load_latency"] = ll
    return {
        "name": "two-tiers",
        "duration": 8.0,
        "warmup": 0.0,
        "slo_latency": 5.0,
        "services": {
            "front": {"workers": 0, "routes": {"default": {"steps": [{"calls": ["front_db"]}]}}},
            "db": {**db, "replicas": 2},
        },
        "edges": {"front_db": {"caller": "front", "target": "db"}},
        "clients": {"web": {"target": "front", "workload": {"type": "poisson", "rate": 300.0}}},
    }


def test_replicas_of_a_multi_tier_service_apply_the_multiplier() -> None:
    # A multi-tier replica starts its calls through the same service code: a database tier's time
    # grows with its busy connections, and factor 0 leaves every figure as without the multiplier.
    plain = run(scenario_from_dict(_two_tiers(None), source="t"), seed=1).summary
    zero = run(scenario_from_dict(_two_tiers({"multiplier": "linear", "factor": 0.0}), source="t"), seed=1)
    assert zero.summary == {**plain, "scenario": zero.summary["scenario"]}
    slow = run(scenario_from_dict(_two_tiers({"multiplier": "linear", "factor": 3.0}), source="t"), seed=1)
    base_db, slow_db = plain["tiers"]["db"]["in_tier_seconds"], slow.summary["tiers"]["db"]["in_tier_seconds"]
    # every call takes at least 0.01 x (1 + 3 x 1/4): the call itself is busy
    assert base_db["p50"] == pytest.approx(0.01, rel=0.05)
    assert slow_db["p50"] >= 0.01 * 1.75 * 0.95
    assert slow_db["mean"] > base_db["mean"] * 1.5
