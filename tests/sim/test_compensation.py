"""The lazy compensation queue against an item-by-item SimPy reference; identity, errors, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from resilience._config import ConfigError
from resilience.fallback import Enqueue, Fallback, Serve, Tier
from resilience.outcome import FailureReason, Outcome
from resilience.steps import GiveUp
from sim.model.compensation import CompensationQueue
from sim.scenario.stores import CompensationConfig


def _reference(
    offers: list[float], probes: list[float], rate: float, capacity: int
) -> tuple[list[int], list[float | None], dict[str, int]]:
    """One SimPy worker that takes an item, spends 1/rate on it, repeats; a full queue drops.

    Returns the backlog at each probe time (probes fall between events), each
    offer's drain time (None: dropped) and the final counters.
    """
    env = simpy.Environment()
    store: simpy.Store = simpy.Store(env)
    state = {"waiting": 0, "drained": 0, "dropped": 0}
    drained_at: list[float | None] = [None] * len(offers)
    backlog: list[int] = []

    def worker() -> simpy.events.ProcessGenerator:
        while True:
            index = yield store.get()
            yield env.timeout(1.0 / rate)
            state["waiting"] -= 1
            state["drained"] += 1
            drained_at[index] = env.now

    def offer() -> simpy.events.ProcessGenerator:
        for i, t in enumerate(offers):
            yield env.timeout(t - env.now)
            if state["waiting"] >= capacity:
                state["dropped"] += 1
            else:
                state["waiting"] += 1
                store.put(i)

    def probe() -> simpy.events.ProcessGenerator:
        for t in probes:
            yield env.timeout(t - env.now)
            backlog.append(state["waiting"])

    env.process(worker())
    env.process(offer())
    env.process(probe())
    env.run(until=max(probes) + 1.0)
    return backlog, drained_at, state


def _workload(seed: int) -> tuple[list[float], list[float]]:
    """Bursts above the drain rate, then quiet: the queue fills, drops, and empties."""
    rng = np.random.default_rng(seed)
    busy = np.cumsum(rng.exponential(1 / 80.0, size=1500))  # 80/s for ~19 s
    quiet = busy[-1] + 15.0 + np.cumsum(rng.exponential(1 / 5.0, size=100))  # then 5/s
    offers = np.concatenate([busy, quiet]).tolist()
    probes = np.sort(rng.uniform(0.0, offers[-1] + 5.0, size=400)).tolist()
    return offers, probes


def test_matches_item_by_item_reference_and_identity_holds() -> None:
    rate, capacity = 50.0, 200
    offers, probes = _workload(1)
    ref_backlog, ref_drained_at, ref_state = _reference(offers, probes, rate, capacity)
    queue = CompensationQueue(CompensationConfig(rate=rate, capacity=capacity))
    events = sorted([(t, 0, i) for i, t in enumerate(offers)] + [(t, 1, i) for i, t in enumerate(probes)])
    backlog: list[int] = []
    drained_at: list[float | None] = []
    for t, kind, _ in events:
        if kind == 0:
            drained_at.append(queue.enqueue(t))
        else:
            backlog.append(queue.backlog(t))
        assert queue.backlog(t) == queue.enqueued - queue.drained - queue.dropped
    assert backlog == ref_backlog
    assert queue.dropped == ref_state["dropped"] > 0  # the burst overflowed the queue
    assert max(backlog) <= capacity and queue.max_backlog == capacity
    for mine, ref in zip(drained_at, ref_drained_at, strict=True):
        assert (mine is None) == (ref is None)
        if mine is not None and ref is not None:
            assert mine == pytest.approx(ref, abs=1e-9)
    end = offers[-1] + 100.0
    assert queue.backlog(end) == 0  # everything accepted was drained
    assert queue.drained == ref_state["drained"] == queue.enqueued - queue.dropped


def test_drains_at_the_rate_without_per_item_events() -> None:
    queue = CompensationQueue(CompensationConfig(rate=10.0, capacity=1_000))
    for _ in range(100):
        queue.enqueue(0.0)
    assert queue.backlog(0.0) == 100
    assert queue.backlog(0.35) == 97  # 3 done at 0.1, 0.2, 0.3
    assert queue.backlog(5.0) == 50
    assert queue.backlog(10.0) == 0
    assert queue.drained == 100 and queue.dropped == 0


def test_full_queue_drops_and_reports_none() -> None:
    queue = CompensationQueue(CompensationConfig(rate=1.0, capacity=2))
    assert queue.enqueue(0.0) == pytest.approx(1.0)
    assert queue.enqueue(0.0) == pytest.approx(2.0)
    assert queue.enqueue(0.5) is None
    assert queue.enqueue(1.0) == pytest.approx(3.0)  # one drained at 1.0 made room
    assert queue.counters(1.0) == {"enqueued": 4, "drained": 1, "dropped": 1, "backlog": 2, "max_backlog": 2}


def test_time_must_not_go_back() -> None:
    queue = CompensationQueue(CompensationConfig())
    queue.enqueue(5.0)
    with pytest.raises(ValueError, match=r"now=4\.0: must not be before the last time given \(5\.0\)"):
        queue.backlog(4.0)


def test_deterministic() -> None:
    def run(seed: int) -> list[int]:
        offers, probes = _workload(seed)
        queue = CompensationQueue(CompensationConfig(rate=50.0, capacity=200))
        events = sorted([(t, 0) for t in offers] + [(t, 1) for t in probes])
        return [queue.backlog(t) if kind else int(queue.enqueue(t) is None) for t, kind in events]

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rate": 0.0}, "CompensationConfig.rate=0.0: must be > 0 and finite"),
        ({"rate": float("inf")}, "CompensationConfig.rate=inf: must be > 0 and finite"),
        ({"capacity": 0}, "CompensationConfig.capacity=0: must be in 1..1000000000"),
        ({"capacity": 1.5}, "CompensationConfig.capacity=1.5: must be an integer"),
        ({"size": 3}, "CompensationConfig.size=3: unknown field"),
    ],
)
def test_config_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        CompensationConfig.from_dict(data)
    assert str(err.value) == message


def test_real_fallback_degrades_to_the_queue_until_it_is_full() -> None:
    """resilience.fallback decides; the queue accepts or drops; a dropped record is a failure."""
    queue = CompensationQueue(CompensationConfig(rate=1.0, capacity=3))
    fallback = Fallback(cache=False, compensation=queue.accept, name="checkout")
    failure = GiveUp(FailureReason.BREAKER_OPEN, Outcome.rejected("breaker_open"))
    tiers: list[Tier | None] = []
    for i in range(5):
        now = 0.1 * i
        d = fallback.begin(f"order-{i}")
        step = d.on_failure(now, failure)
        assert isinstance(step, Enqueue) and step.record.at == now
        final = d.on_enqueued(now, step.record, ok=queue.accept(step.record))
        tiers.append(final.result.tier if isinstance(final, Serve) else None)
    assert tiers == [Tier.COMPENSATION] * 3 + [None, None]  # capacity 3, nothing drained before 1.0
    assert queue.counters(0.4) == {"enqueued": 5, "drained": 0, "dropped": 2, "backlog": 3, "max_backlog": 3}
    assert fallback.counts["compensation"] == 3
