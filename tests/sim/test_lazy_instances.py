"""Client instances are built on first use: the ones that never send a request are never built, and a
run equals one whose instances were all built up front (the construction the engine used to do)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import sim.engine as engine
from resilience.breaker import CircuitBreaker
from resilience.classify import Classifier
from resilience.pipeline import Pipeline
from sim import run
from sim.model.client import GroupRT
from sim.model.instances import InstanceRandom, Instances, StreamKey
from sim.model.streams import Streams
from sim.observe.breakers import BreakerTracker
from sim.observe.record import Recorder
from sim.observe.result import RunResult
from sim.scenario.loader import scenario_from_dict
from sim.scenario.spec import Scenario

RETRY = {
    "max_attempts": 3,
    "attempt_timeout": 0.3,
    "timeout": 2.0,
    "backoff": {"type": "exponential", "base": 0.05, "cap": 1.0, "jitter": {"type": "full"}},
}


def _scenario(
    instances: int, rate: float, duration: float, budget: dict[str, Any], breaker: dict[str, Any]
) -> Scenario:
    """Retries with jitter, a breaker and a budget per instance; 30% errors from t = 10 s to 20 s."""
    return scenario_from_dict(
        {
            "name": "lazy-instances",
            "warmup": 5.0,
            "duration": duration,
            "slo_latency": 0.5,
            "bin_width": 1.0,
            "scrape_interval": 5.0,
            "services": {"api": {"workers": 8, "service_time": {"type": "exponential", "mean": 0.01}}},
            "clients": {
                "web": {
                    "target": "api",
                    "instances": instances,
                    "workload": {"type": "poisson", "rate": rate},
                    "retry": RETRY,
                    "budget": budget,
                    "breaker": breaker,
                }
            },
            "faults": [
                {
                    "type": "error_burst",
                    "target": "api",
                    "start": 10.0,
                    "duration": 10.0,
                    "error": {"probability": 0.3, "status": 503},
                }
            ],
        },
        source="<lazy-instances>",
    )


COUNT_BREAKER = {"window_size": 10, "minimum_calls": 5, "wait_in_open": 2.0, "wait_jitter": 0.2}
TIME_BREAKER = {"window_type": "time", "window_size": 5, "minimum_calls": 5, "wait_in_open": 1.0}
TOKEN_BUCKET = {"type": "token_bucket", "capacity": 50}
RATIO = {"type": "ratio", "ttl": 5.0, "percent_can_retry": 0.2}


def _eager(sc: Scenario, name: str, seed: int, tracker: BreakerTracker | None) -> list[Pipeline]:
    """Every instance built before the run, with ``Streams.uniform`` streams and closure listeners."""
    cfg = sc.clients[name]
    edge = f"{name}->{cfg.target}"
    streams = Streams(seed)
    out = []
    for i in range(cfg.instances):
        key = f"clients.{name}#{i}"
        breaker = None
        if cfg.breaker is not None:
            assert tracker is not None
            breaker = CircuitBreaker(
                cfg.breaker,
                name=edge,
                rng=streams.uniform(key, "breaker"),
                state_listeners=[tracker.listener(i)],
            )
        budget = None if cfg.budget is None else cfg.budget.build(streams.uniform(key, "budget"), name=edge)
        out.append(
            Pipeline(
                cfg.retry,
                breaker=breaker,
                budget=budget,
                classifier=Classifier(cfg.classifier),
                rng=streams.uniform(key, "jitter"),
                name=edge,
            )
        )
    return out


def _eager_run(monkeypatch: pytest.MonkeyPatch, sc: Scenario, seed: int) -> RunResult:
    with monkeypatch.context() as m:
        m.setattr(engine, "_instances", lambda s, n, sd, tr: _eager(s, n, sd, tr))
        return run(sc, seed)


def _groups(monkeypatch: pytest.MonkeyPatch) -> list[GroupRT]:
    """The client groups of the runs that follow (``RunResult`` keeps none)."""
    made: list[GroupRT] = []

    class Capturing(GroupRT):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(engine, "GroupRT", Capturing)
    return made


def _fingerprint(r: RunResult) -> tuple[str, str, str]:
    summary = json.loads(r.to_json())
    summary.pop("timing", None)
    return json.dumps(summary, sort_keys=True), r.bins.to_csv(index=False), r.series


def test_instances_that_never_act_are_never_built(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = _groups(monkeypatch)
    sc = _scenario(5_000, 20.0, 25.0, TOKEN_BUCKET, COUNT_BREAKER)
    r = run(sc, seed=3)
    (g,) = groups
    seq = g.pipelines
    assert isinstance(seq, Instances)
    built = list(seq.built)
    assert len(set(built)) == len(built)
    assert 0 < len(built) <= g.offered < 1_000
    unbuilt = [i for i, p in enumerate(seq.items) if p is None]
    assert len(unbuilt) + len(built) == 5_000
    # every built instance acted: its breaker saw calls, and together they saw every attempt of the group
    calls = [sum(seq.items[i].breaker.counts(r.sim_seconds).kinds) for i in built]
    assert min(calls) >= 1
    assert sum(calls) == g.attempts
    # reading the group as the recorder does builds nothing; asking for an instance does
    assert sum(1 for p in seq if p.budget is not None) == 5_000
    assert len(seq.built) == len(built)
    seq[unbuilt[0]]
    assert len(seq.built) == len(built) + 1


@pytest.mark.parametrize(
    ("budget", "breaker"),
    [(TOKEN_BUCKET, COUNT_BREAKER), (RATIO, TIME_BREAKER)],
    ids=["token-count", "ratio-time"],
)
def test_a_run_equals_one_with_every_instance_built_up_front(
    monkeypatch: pytest.MonkeyPatch, budget: dict[str, Any], breaker: dict[str, Any]
) -> None:
    groups = _groups(monkeypatch)
    sc = _scenario(800, 120.0, 25.0, budget, breaker)
    lazy = run(sc, seed=1)
    g = groups[0]
    eager = _eager_run(monkeypatch, sc, 1)
    assert 0 < len(g.pipelines.built) < 800  # some instances never acted
    assert lazy.summary["breakers"]["web->api"]["opened"] > 0, (
        "the breakers must act for the check to mean much"
    )
    assert sum(g.retries.values()) > 0
    assert _fingerprint(lazy) == _fingerprint(eager)
    other = _eager_run(monkeypatch, sc, 2)  # negative control: another seed gives another run
    assert _fingerprint(other)[0] != _fingerprint(eager)[0]


def test_group_figures_equal_those_over_every_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = _groups(monkeypatch)
    sc = _scenario(400, 50.0, 25.0, RATIO, COUNT_BREAKER)
    r = run(sc, seed=5)
    seq = groups[0].pipelines
    assert 0 < len(seq.built) < 400
    t = r.sim_seconds
    every = list(seq)  # unbuilt instances appear as new ones
    tokens = sum(p.budget.available(t) for p in every) / len(every)
    assert seq.budget_tokens(t) == tokens
    kinds = [0] * 6
    fr = sr = 0.0
    for p in every:
        c = p.breaker.counts(t)
        kinds = [a + b for a, b in zip(kinds, c.kinds, strict=True)]
        fr += c.failure_rate
        sr += c.slow_call_rate
    assert seq.breaker_totals(t) == (kinds, fr / 400, sr / 400, 0)
    assert sum(kinds) > 0
    full = Instances.of([seq[i] for i in range(400)])  # now every instance built: no views left
    assert all(type(p) is Pipeline for p in full)
    assert full.budget_tokens(t) == sum(p.budget.available(t) for p in full) / 400


@pytest.mark.parametrize("budget", [TOKEN_BUCKET, RATIO], ids=["token-bucket", "ratio"])
def test_mean_budget_tokens_equal_the_mean_over_every_instance_at_every_bin(
    monkeypatch: pytest.MonkeyPatch, budget: dict[str, Any]
) -> None:
    readings: list[tuple[float, float]] = []
    cut = Recorder.cut_bin

    def checked_cut(self: Recorder, end: float) -> None:
        for g in self.groups:
            every = [p.budget.available(end) for p in g.pipelines]
            readings.append((g.pipelines.budget_tokens(end), sum(every) / len(every)))
        cut(self, end)

    monkeypatch.setattr(Recorder, "cut_bin", checked_cut)
    run(_scenario(400, 50.0, 25.0, budget, COUNT_BREAKER), seed=4)
    assert len(readings) >= 25
    assert [ours for ours, _ in readings] == [every for _, every in readings]
    assert len({every for _, every in readings}) > 3, "the budgets must move for the check to mean much"


def test_an_instance_stream_is_the_streams_uniform_one_and_costs_nothing_before_its_first_draw() -> None:
    key = StreamKey(11, "clients.web#", "jitter")
    fresh = InstanceRandom(key, 42)
    assert fresh.drawn == 0
    ours = [fresh.random() for _ in range(2_000)]
    reference = Streams(11).uniform("clients.web#42", "jitter")
    assert ours == [reference.random() for _ in range(2_000)]
    assert 2_000 <= fresh.drawn < 2_000 + 512
    neighbour = InstanceRandom(key, 43)
    assert [neighbour.random() for _ in range(10)] != ours[:10]
