"""The recorder's shortcuts agree with the slow, obvious computations they replace."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from simcase import small

from resilience.breaker import BreakerConfig, CircuitBreaker
from resilience.outcome import SUCCESS, Outcome
from sim import run
from sim.model.instances import Instances
from sim.observe.bins import LatencyCuts
from sim.observe.breakers import breaker_totals
from sim.observe.histogram import LogHistogram
from sim.observe.series import ScrapeStore

FAIL = Outcome.error("http_503", retryable=True)


def _breakers(window: dict[str, Any]) -> list[CircuitBreaker]:
    base = {"minimum_calls": 4, "wait_in_open": 1.0, "slow_call_duration": 0.5}
    cfg = BreakerConfig.from_dict({**base, "permitted_calls_in_half_open": 3, **window})
    out = [CircuitBreaker(cfg, name=f"b{i}") for i in range(4)]
    closed, opened, half_open, _fresh = out
    for k in range(6):  # closed: some failures and slow calls, below the thresholds
        permit = closed.try_acquire(k * 0.1)
        assert permit is not None
        closed.record(permit, k * 0.1, 0.6 if k == 2 else 0.01, FAIL if k == 4 else SUCCESS)
    for b in (opened, half_open):  # trip
        for k in range(4):
            permit = b.try_acquire(k * 0.1)
            assert permit is not None
            b.record(permit, k * 0.1, 0.01, FAIL)
    assert opened.try_acquire(0.5) is None  # not permitted
    probe = half_open.try_acquire(2.0)  # the open wait is over: a probe
    assert probe is not None
    half_open.record(probe, 2.0, 0.7, SUCCESS)
    return out


@pytest.mark.parametrize(
    "window",
    [{"window_type": "count", "window_size": 10}, {"window_type": "time", "window_size": 4.0}],
    ids=["count", "time"],
)
@pytest.mark.parametrize("t", [2.0, 3.5, 9.0])
def test_breaker_totals_equal_the_sum_and_mean_of_snapshots(window: dict[str, Any], t: float) -> None:
    breakers = _breakers(window)
    group = SimpleNamespace(pipelines=Instances.of([SimpleNamespace(breaker=b) for b in breakers]))
    kinds, failure_rate, slow_rate, late = breaker_totals(group, t)  # type: ignore[arg-type]
    snaps = [b.metrics(t) for b in breakers]
    summed: dict[str, int] = {}
    for m in snaps:
        for k, v in m.calls_by_kind().items():
            summed[k] = summed.get(k, 0) + v
    assert kinds == list(summed.values())
    assert failure_rate == sum(m.failure_rate for m in snaps) / len(snaps)
    assert slow_rate == sum(m.slow_call_rate for m in snaps) / len(snaps)
    assert late == sum(m.late for m in snaps)
    assert {b.state.value for b in breakers} >= {"closed", "open", "half_open"}  # as stored
    if window["window_type"] == "count" or t < 4.0:
        assert 0 < failure_rate < 1 and 0 < slow_rate < 1
    else:  # the time windows have expired; the half-open breaker's one (slow) probe remains
        assert (failure_rate, slow_rate) == (0.0, 0.25)


@pytest.fixture(scope="module")
def result() -> Any:
    return run(small(warmup=3.3), seed=5)


def test_bin_counts_add_up_to_the_cumulative_counters(result: Any) -> None:
    df = result.bins
    client = df[df["entity_kind"] == "client"]
    s = result.summary
    # requests arriving after warm-up are the summary's; the bins count every request
    assert client["offered"].sum() >= s["requests"] > 0
    assert (client["failures"] == client.filter(like="failures_").sum(axis=1)).all()
    service = df[df["entity_kind"] == "service"]
    assert service["arrivals"].sum() >= s["services"]["api"]["arrivals"]
    assert np.allclose(client["bin_end"].to_numpy()[:-1], client["bin_start"].to_numpy()[1:])


def test_bin_latency_histograms_merge_into_the_summary_histogram(result: Any) -> None:
    """Bins straddling warm-up hold two histograms; the counted ones make up the summary's latency."""
    g = result.summary["latency_seconds"]
    assert g["p50"] is not None and g["p50"] <= g["p90"] <= g["p99"]
    # the mean of successes over all bins, weighted by successes, covers warm-up too: close, not equal
    client = result.bins[result.bins["entity_kind"] == "client"]
    w = client["successes"].to_numpy()
    m = client["latency_mean"].to_numpy()
    assert math.isclose(np.nansum(w * m) / w.sum(), g["mean"], rel_tol=0.1)


def test_quantiles_in_one_pass_equal_one_at_a_time() -> None:
    h = LogHistogram()
    for k in range(1, 400):
        h.add((k * 7919 % 401) / 1000.0)
    h.add(0.0)
    qs = (0.0, 0.001, 0.5, 0.9, 0.99, 0.999, 1.0)
    assert h.quantiles(qs) == [h.quantile(q) for q in qs]
    assert h.quantiles((0.9, 0.5)) == [h.quantile(0.9), h.quantile(0.5)]
    assert all(math.isnan(x) for x in LogHistogram().quantiles(qs))


def test_summary_is_json_with_the_waited_count(result: Any) -> None:
    svc = json.loads(result.to_json())["services"]["api"]
    assert 0 <= svc["waited"] <= svc["served"]


def test_stored_latency_histograms_give_the_merged_mean_quantiles_and_summary() -> None:
    """The vectorised per-bin statistics and the final merge equal LogHistogram's, exactly."""
    rng = np.random.default_rng(3)
    cuts = LatencyCuts()
    expected: dict[int, LogHistogram] = {}
    summary, merged = LogHistogram(), LogHistogram()
    summary.add(0.25)
    merged.add(0.25)
    for k in sorted(rng.choice(500, size=200, replace=False).tolist()):
        for counted in (0, 1) if k % 3 == 0 else (k % 2,):
            h = LogHistogram()
            for x in rng.lognormal(-3.0, 1.5, size=int(rng.integers(1, 40))):
                h.add(0.0 if x < 0.005 else float(x))
            cuts.add(k, h, counted)
            expected[k] = LogHistogram.merged([expected[k], h]) if k in expected else LogHistogram.merged([h])
            if counted:
                merged.merge(h)
    qs = (0.5, 0.9, 0.99)
    stats = cuts.stats(500, qs)
    for k in range(500):
        h = expected.get(k)
        if h is None:
            assert np.isnan(stats[k]).all()
        else:
            assert stats[k].tolist() == [h.mean, *h.quantiles(qs)]
    cuts.merge_counted(summary)
    for attr in ("n", "total", "lo", "hi", "counts"):
        assert getattr(summary, attr) == getattr(merged, attr), attr


def test_scrape_store_gives_back_what_was_scraped() -> None:
    store = ScrapeStore()
    a = (("name", "x"),)
    b = (("name", "x"), ("state", "open"))
    hist = ("resilience_request_duration_seconds", a, ((1, 0, 2), 0.5))
    scrapes = [
        (0.0, [("resilience_attempts_total", a, 3), ("resilience_breaker_state", b, 0.25)]),
        (5.0, [hist, ("resilience_attempts_total", a, 7)]),
        (10.0, []),
    ]
    assert store.last == -math.inf
    for t, points in scrapes:
        store.append(t, points)
    assert store.samples() == scrapes
    assert (len(store), store.last, len(store.keys)) == (3, 10.0, 3)
