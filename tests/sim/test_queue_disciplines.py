"""Queue policies: an unbounded FIFO of stale work collapses goodput; dropping expired work, CoDel and
adaptive LIFO each cure it (scenarios/collapse/*.toml, same seed and load). Plus the parts on their own:
the order and drops of a service's queue, CoDel's control law, the accounting, the file errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from simcase import identity, small

from sim import ClientGroup, Constant, Poisson, Service, run
from sim.model.calls import Op, Stage
from sim.model.queueing import CoDelState
from sim.model.service import QUEUE_FULL, ServiceRT
from sim.observe.result import RunResult
from sim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
from sim.scenario.queues import AdaptiveLifo, CoDel, QueuePolicy

COLLAPSE = Path(__file__).resolve().parents[2] / "scenarios" / "collapse"
CURES = ("deadline_drop", "codel", "adaptive_lifo")
SEED = 1
WINDOW = 30  # seconds after the trigger ends on which collapse and cure are judged
FATES = ("served", "fast_errors", "refused", "queue_full", "cancelled", "in_flight_at_end")


@pytest.fixture(scope="module")
def runs() -> dict[str, RunResult]:
    return {name: run(load_scenario(COLLAPSE / f"{name}.toml"), SEED) for name in ("fifo", *CURES)}


def ratios(r: RunResult) -> np.ndarray:
    """Goodput / offered per arrival second."""
    n = int(r.scenario.duration)
    offered = np.asarray(r.offered_per_second[:n], dtype=float)
    good = np.asarray(r.goodput_per_second[:n], dtype=float)
    assert (offered > 0).all()
    return good / offered


def trigger(r: RunResult) -> tuple[int, int]:
    (fault,) = r.scenario.faults
    return int(fault.start), int(fault.end)


def recovery(after: np.ndarray, level: float = 0.9, span: int = 5) -> int | None:
    """Seconds to the start of the first ``span``-second window with every second at or above ``level``."""
    for i in range(len(after) - span + 1):
        if (after[i : i + span] >= level).all():
            return i
    return None


# -- the collapse and its cures ----------------------------------------------------------
def test_the_collapse_scenarios_differ_only_in_the_queue_policy() -> None:
    def plain(name: str) -> dict[str, Any]:
        d = load_scenario(COLLAPSE / f"{name}.toml").to_dict()
        d.pop("name")
        d["services"]["api"].pop("queue_policy")
        return d

    base = plain("fifo")
    assert load_scenario(COLLAPSE / "fifo.toml").services["api"].queue_policy is None
    for cure in CURES:
        assert plain(cure) == base
        assert load_scenario(COLLAPSE / f"{cure}.toml").services["api"].queue_policy is not None


def test_fifo_goodput_collapses_and_stays_down_after_the_trigger(runs: dict[str, RunResult]) -> None:
    r = runs["fifo"]
    g = ratios(r)
    start, end = trigger(r)
    assert g[int(r.scenario.warmup) : start].min() >= 0.95  # healthy before the trigger
    after = g[end : end + WINDOW]
    assert after.max() < 0.1, f"FIFO goodput after the trigger: {np.round(after, 2)}"
    api = r.summary["services"]["api"]
    assert api["cancelled"] == api["queue_full"] == 0  # nothing left the queue unserved


@pytest.mark.parametrize("cure", CURES)
def test_each_cure_brings_goodput_back_within_10_s(runs: dict[str, RunResult], cure: str) -> None:
    r = runs[cure]
    g = ratios(r)
    start, end = trigger(r)
    assert g[int(r.scenario.warmup) : start].min() >= 0.9  # the cure costs little in normal times
    after = g[end : end + WINDOW]
    back = recovery(after)
    assert back is not None and back <= 10, f"{cure} goodput after the trigger: {np.round(after, 2)}"
    assert after[back:].mean() >= 0.95  # and stays back
    assert runs["fifo"].summary["requests"] == r.summary["requests"]  # same seed, same load


def test_dropped_work_is_counted_and_every_arrival_has_one_fate(runs: dict[str, RunResult]) -> None:
    for name, r in runs.items():
        s = r.summary
        req, parts = identity(s)
        assert req == parts, name
        api = s["services"]["api"]
        assert api["arrivals"] == sum(api[k] for k in FATES), f"{name}: {api}"
    expired = runs["deadline_drop"].summary
    assert expired["services"]["api"]["cancelled"] > 500  # dropped at dequeue, callers long gone
    assert expired["services"]["api"]["queue_full"] == 0
    codel = runs["codel"].summary
    shed = codel["services"]["api"]["queue_full"]
    assert shed > 500 and codel["services"]["api"]["cancelled"] == 0  # the queue is unbounded: CoDel shed
    # answered 503 at once; a call whose caller had already timed out finds nobody to hear it
    assert shed * 0.5 < codel["failure_evidence"]["retries_exhausted"]["queue_full"] <= shed
    bins = runs["codel"].bins
    in_bins = bins[bins.entity_kind == "service"]["queue_full"].sum()
    assert shed <= in_bins <= shed * 1.01  # the bins also hold the few drops of calls from the warm-up
    lifo = runs["adaptive_lifo"].summary["services"]["api"]
    assert lifo["cancelled"] == lifo["queue_full"] == 0  # reorders, drops nothing


# -- policies that never act change nothing ------------------------------------------------
@pytest.mark.parametrize(
    "policy",
    [
        QueuePolicy(),
        QueuePolicy(adaptive_lifo=AdaptiveLifo(interval=1e9)),  # never congested long enough
        QueuePolicy(drop_expired=True),  # no call carries a deadline here
    ],
    ids=["empty", "lifo-never", "expired-never"],
)
def test_a_policy_that_never_acts_gives_the_fifo_results(policy: QueuePolicy) -> None:
    group = ClientGroup(target="api", instances=4, workload=Poisson(rate=330.0))  # no timeouts
    base = small(clients={"web": group}, links={})
    svc = base.services["api"]
    with_policy = dataclasses.replace(base, services={"api": dataclasses.replace(svc, queue_policy=policy)})
    plain = run(base, 5).summary
    assert plain["services"]["api"]["waited"] > 1000  # calls did queue
    assert run(with_policy, 5).summary == plain


# -- the service's queue on its own --------------------------------------------------------
class FakeCall:
    """A call as the service sees it; records its answer."""

    def __init__(self, svc: ServiceRT, tag: int, deadline: float = float("inf")) -> None:
        self.svc = svc
        self.tag = tag
        self.op = Op.CALL
        self.stage = Stage.TRAVELLING
        self.error = None
        self.version = -1
        self.svc_arrival = self.svc_start = -1.0
        self.deadline = deadline
        self.answers: list[tuple[Any, float]] = []

    def respond(self, code: Any, now: float) -> None:
        self.answers.append((code, now))

    def served(self, _ev: object) -> None:
        self.svc.finish(self)


def service(policy: QueuePolicy | None) -> tuple[simpy.Environment, ServiceRT]:
    env = simpy.Environment()
    cfg = Service(workers=1, service_time=Constant(1.0), queue_policy=policy)
    rng = np.random.default_rng(0)
    return env, ServiceRT(env, "api", cfg, rng, rng, warmup=0.0)


def arrive_at(env: simpy.Environment, svc: ServiceRT, calls: list[tuple[float, FakeCall]]) -> None:
    for t, c in calls:
        env.timeout(t).callbacks.append(lambda _ev, c=c: svc.arrive(c, env.now))


def order_served(policy: QueuePolicy | None, arrivals: list[float]) -> list[int]:
    env, svc = service(policy)
    calls = [FakeCall(svc, i) for i in range(len(arrivals))]
    arrive_at(env, svc, list(zip(arrivals, calls, strict=True)))
    env.run()
    assert all(c.answers and c.answers[0][0] is None for c in calls)
    return [c.tag for c in sorted(calls, key=lambda c: c.answers[0][1])]


def test_adaptive_lifo_serves_newest_first_only_once_the_queue_is_congested() -> None:
    # one worker, 1 s per call; call 0 starts at 0, calls 1..4 queue at 0.1 .. 0.4
    arrivals = [0.0, 0.1, 0.2, 0.3, 0.4]
    assert order_served(None, arrivals) == [0, 1, 2, 3, 4]

    # the queue is non-empty from 0.1 on; picks at t = 1, 2, 3, 4 find it so for 0.9, 1.9, 2.9, 3.9 s
    def lifo_after(interval: float) -> list[int]:
        return order_served(QueuePolicy(adaptive_lifo=AdaptiveLifo(interval=interval)), arrivals)

    assert lifo_after(10.0) == [0, 1, 2, 3, 4]
    assert lifo_after(2.0) == [0, 1, 2, 4, 3]
    assert lifo_after(1.0) == [0, 1, 4, 3, 2]
    assert lifo_after(0.5) == [0, 4, 3, 2, 1]


def test_expired_calls_are_dropped_at_dequeue_unanswered() -> None:
    env, svc = service(QueuePolicy(drop_expired=True))
    first, late, fresh, edge = (
        FakeCall(svc, 0),
        FakeCall(svc, 1, 0.9),
        FakeCall(svc, 2, 5.0),
        FakeCall(svc, 3, 1.0),
    )
    arrive_at(env, svc, [(0.0, first), (0.1, late), (0.2, edge), (0.3, fresh)])
    env.run()
    assert late.answers == [] and edge.answers == []  # deadline passed (or reached) by t = 1
    assert fresh.answers == [(None, 2.0)]
    assert late.stage == edge.stage == Stage.CANCELLED
    assert (svc.expired, svc.cancelled, svc.served) == (2, 2, 2)
    assert svc.in_flight() == 0 and svc.queued == 0


def test_codel_drops_answer_503_and_count_as_queue_full() -> None:
    env, svc = service(QueuePolicy(codel=CoDel(target=0.5, interval=1.0)))
    calls = [FakeCall(svc, i) for i in range(8)]
    arrive_at(env, svc, [(0.0, c) for c in calls])  # each waits 1 s more than the one before
    env.run()
    dropped = [c for c in calls if c.answers and c.answers[0][0] == QUEUE_FULL]
    assert dropped and svc.codel_dropped == svc.queue_full == len(dropped)
    assert svc.served + len(dropped) == len(calls)
    # CoDel never drops before the sojourn time has stayed above target for an interval
    assert min(c.answers[0][1] for c in dropped) >= 2.0


def test_codel_control_law_spaces_drops_by_interval_over_root_count() -> None:
    # a dequeue every millisecond, each item queued 10 ms (> 5 ms target), a long queue behind it
    state: CoDelState[int] = CoDelState(target=0.005, interval=0.1)
    drops: list[float] = []
    now = 0.0
    for step in range(500):
        now = step * 0.001
        state.dequeue(now, lambda i=step: (i, 0.010, False), lambda _item, t=now: drops.append(t))
    # first above target at 0; allowed to drop from 0.1; then 0.1/sqrt(1), 0.1/sqrt(2), 0.1/sqrt(3) … apart
    expected = [0.1, 0.2, 0.2707, 0.3284, 0.3784, 0.4231, 0.4640]
    assert drops[: len(expected)] == pytest.approx(expected, abs=0.0011)
    assert len(drops) == len(expected)


def test_codel_stops_dropping_once_the_sojourn_falls_below_target() -> None:
    state: CoDelState[int] = CoDelState(target=0.005, interval=0.1)
    drops: list[float] = []
    for step in range(1000):
        now = step * 0.001
        sojourn = 0.010 if now < 0.3 else 0.001
        state.dequeue(now, lambda s=sojourn: (0, s, False), lambda _item, t=now: drops.append(t))
    assert drops and max(drops) < 0.3 and not state.dropping
    # nothing behind the item: no standing queue, no drop
    quiet: CoDelState[int] = CoDelState(target=0.005, interval=0.1)
    for step in range(500):
        assert quiet.dequeue(step * 0.001, lambda: (7, 0.010, True), pytest.fail) == 7


# -- scenario files ------------------------------------------------------------------------
def scenario_with(svc: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "q",
        "duration": 10.0,
        "warmup": 0.0,
        "slo_latency": 1.0,
        "clients": {"web": {"target": "api"}},
        "services": {"api": svc},
    }


@pytest.mark.parametrize(
    ("svc", "message"),
    [
        (
            {"queue_policy": {"codel": {"target": 0.2, "interval": 0.1}}},
            "q.toml: services.api.queue_policy.codel.target=0.2: must be < interval (0.1)",
        ),
        (
            {"queue_policy": {"codel": {"target": 0.0}}},
            "q.toml: services.api.queue_policy.codel.target=0.0: must be > 0 and finite",
        ),
        (
            {"discipline": "lifo", "queue_policy": {"adaptive_lifo": {}}},
            "q.toml: services.api.discipline='lifo': must be fifo when queue_policy.adaptive_lifo is set",
        ),
        (
            {"queue_policy": {"drop_expried": True}},
            "q.toml: services.api.queue_policy.drop_expried=True: unknown field; "
            "did you mean `drop_expired`?",
        ),
    ],
)
def test_bad_queue_policies_name_path_value_and_rule(svc: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(scenario_with(svc), source="q.toml")
    assert str(e.value) == message


def test_queue_policy_round_trips_and_defaults() -> None:
    sc = scenario_from_dict(scenario_with({"queue_policy": {"drop_expired": True, "codel": {}}}), source="q")
    policy = sc.services["api"].queue_policy
    assert policy == QueuePolicy(drop_expired=True, codel=CoDel(target=0.005, interval=0.1))
    assert QueuePolicy.from_dict(policy.to_dict()) == policy
