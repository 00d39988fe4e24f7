"""Model behaviour: distributions, histograms, workloads, services, links, faults, CAS, sweeps."""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from resilience.core import ConstantBackoff, RetryConfig
from sim import (
    Burst,
    CapacityDrop,
    ClientGroup,
    ClosedLoop,
    Constant,
    Empirical,
    ErrorBurst,
    ErrorSpec,
    Exponential,
    Fixed,
    LatencySpike,
    Link,
    LoadLatency,
    LogNormal,
    Mixture,
    MixtureComponent,
    Outage,
    Partition,
    Poisson,
    Ramp,
    Scenario,
    Schedule,
    Service,
    TruncatedNormal,
    Uniform,
    run,
    run_many,
)
from sim.observe.histogram import LogHistogram


def one(
    group: ClientGroup,
    service: Service,
    *,
    links: dict[str, Link] | None = None,
    faults: tuple = (),
    duration: float = 20.0,
    warmup: float = 0.0,
) -> Scenario:
    return Scenario(
        name="t",
        duration=duration,
        warmup=warmup,
        slo_latency=1.0,
        clients={"web": group},
        services={"api": service},
        links=links or {},
        faults=faults,
    )


@pytest.mark.parametrize(
    "dist",
    [
        Constant(0.2),
        Exponential(mean=0.5),
        Uniform(low=1.0, high=2.0),
        TruncatedNormal(mean=0.01, std=0.002, fold=True),
        TruncatedNormal(mean=0.0, std=1.0, low=0.0, high=1.0),
        LogNormal(median=1.0, sigma=0.5),
        Mixture(
            components=(MixtureComponent(1.0, Constant(1.0)), MixtureComponent(3.0, Exponential(mean=2.0)))
        ),
        Empirical(values=(1.0, 2.0, 6.0)),
    ],
    ids=lambda d: d.kind,
)
def test_distribution_means(dist) -> None:  # type: ignore[no-untyped-def]
    draw = dist.sampler(np.random.default_rng(1))
    xs = np.array([draw() for _ in range(40_000)])
    assert (xs >= 0).all()
    assert abs(xs.mean() - dist.expected()) <= 0.02 * dist.expected() + 1e-12
    if isinstance(dist, TruncatedNormal) and not dist.fold:
        assert xs.max() <= 1.0
    if isinstance(dist, Empirical):
        assert set(np.unique(xs)) == {1.0, 2.0, 6.0}


def test_log_histogram_quantiles_and_merge() -> None:
    xs = np.random.default_rng(2).lognormal(-3, 1.2, 50_000)
    a, b = LogHistogram(), LogHistogram()
    for i, x in enumerate(xs.tolist()):
        (a if i % 2 else b).add(x)
    h = LogHistogram.merged((a, b))
    assert h.n == len(xs) and math.isclose(h.mean, xs.mean(), rel_tol=1e-9)
    for q in (0.5, 0.9, 0.99, 0.999):
        assert abs(h.quantile(q) / np.quantile(xs, q) - 1) < 0.01
    c = LogHistogram()
    for _ in range(10):
        c.add(0.125)
    assert c.quantile(0.5) == 0.125  # clamped to the observed values


def test_open_loop_workloads_offer_their_rates() -> None:
    svc = Service(workers=0)
    cases = [
        (Poisson(rate=100.0), 100.0 * 20),
        (Ramp(from_rate=0.0, to_rate=200.0, start=5.0, length=10.0), 1000.0 + 200 * 5),
        (Schedule(steps=((0.0, 50.0), (10.0, 150.0))), 500.0 + 1500.0),
        (Burst(rate=10.0, at=5.0, count=500, spread=1.0), 200.0 + 500.0),
    ]
    for wl, expected in cases:
        s = run(one(ClientGroup(target="api", instances=3, workload=wl), svc), 1).summary
        assert abs(s["requests"] - expected) < 4 * math.sqrt(expected), wl


def test_closed_loop_bounds_concurrency_and_fixed_ends_the_run() -> None:
    svc = Service(workers=0, service_time=Constant(0.1))
    r = run(one(ClientGroup(target="api", instances=2, workload=ClosedLoop(concurrency=3)), svc), 1)
    assert r.bins["in_flight"].dropna().max() <= 6
    assert abs(r.summary["requests"] - 6 * 20 / 0.1) <= 6
    s = run(
        one(ClientGroup(target="api", instances=4, workload=Fixed(requests=5, think=Constant(0.5))), svc), 1
    )
    assert s.summary["successes"] == 20 and math.isclose(s.sim_seconds, 5 * 0.1 + 4 * 0.5)


def test_lifo_serves_fresh_work_first() -> None:
    def waits(discipline: str) -> tuple[float, float]:
        svc = Service(workers=1, discipline=discipline, service_time=Exponential(mean=0.01))
        r = run(one(ClientGroup(target="api", workload=Poisson(rate=90.0)), svc, duration=200.0), 3).summary
        return r["latency_seconds"]["p50"], r["latency_seconds"]["p999"]

    fifo, lifo = waits("fifo"), waits("lifo")
    assert lifo[0] < fifo[0] and lifo[1] > fifo[1]


def test_timed_out_work_keeps_capacity_unless_cancelled() -> None:
    group = ClientGroup(target="api", workload=Poisson(rate=150.0), retry=RetryConfig(attempt_timeout=0.05))
    keep = Service(workers=1, service_time=Exponential(mean=0.01))
    kept = run(one(group, keep), 4).summary
    cancelled = run(one(group, dataclasses.replace(keep, cancel_on_timeout=True)), 4).summary
    assert kept["services"]["api"]["served"] > cancelled["services"]["api"]["served"]
    assert cancelled["success_ratio"] > kept["success_ratio"]


def test_load_dependent_latency_slows_a_busy_service() -> None:
    group = ClientGroup(target="api", workload=Poisson(rate=50.0))
    base = Service(workers=2, service_time=Constant(0.02))
    slow = dataclasses.replace(base, load_latency=LoadLatency(per_in_flight=0.01, threshold=0))
    a = run(one(group, base), 5).summary["services"]["api"]["mean_sojourn_seconds"]
    b = run(one(group, slow), 5).summary["services"]["api"]["mean_sojourn_seconds"]
    assert b > a + 0.009


def test_error_evidence_is_classified_and_retry_after_honoured() -> None:
    svc = Service(
        workers=0,
        errors=(
            ErrorSpec(probability=0.2, status=503, retry_after=0.5),
            ErrorSpec(probability=0.1, sqlstate="23505"),
            ErrorSpec(probability=0.1, refuse=True),
        ),
    )
    group = ClientGroup(target="api", workload=Poisson(rate=100.0), retry=RetryConfig(max_attempts=2))
    r = run(one(group, svc), 6)
    s = r.summary
    assert s["failures"]["permanent_error"] > 0
    assert set(s["failure_evidence"]["retries_exhausted"]) <= {
        "http_503",
        "connection_refused",
        "sqlstate_23505",
    }
    assert 'resilience_retries_total{name="web->api",cause="retry_after",' in r.series


def test_link_latency_loss_and_faults() -> None:
    group = ClientGroup(
        target="api",
        link="lan",
        workload=Poisson(rate=100.0),
        retry=RetryConfig(max_attempts=1, attempt_timeout=0.5),
    )
    lan = Link(latency=Constant(0.01), loss=0.1)
    s = run(one(group, Service(workers=0), links={"lan": lan}), 7).summary
    assert s["latency_seconds"]["p50"] == pytest.approx(0.02)
    lost = s["failure_evidence"]["retries_exhausted"]["timeout"] / s["requests"]
    assert abs(lost - 0.19) < 0.03  # 1 - 0.9² of messages lost one way or the other


def test_each_fault_shows_in_its_window() -> None:
    group = ClientGroup(
        target="api", link="lan", workload=Poisson(rate=200.0), retry=RetryConfig(attempt_timeout=0.2)
    )
    svc = Service(workers=4, service_time=Exponential(mean=0.005))
    faults = (
        Outage(target="api", start=2.0, duration=1.0),
        CapacityDrop(target="api", start=6.0, duration=1.0, workers=0),
        ErrorBurst(target="api", start=10.0, duration=1.0, error=ErrorSpec(probability=1.0, status=500)),
        Partition(target="lan", start=14.0, duration=1.0),
        LatencySpike(target="lan", start=18.0, duration=1.0, add=0.5),
        LatencySpike(target="api", start=22.0, duration=1.0, factor=100.0),
    )
    r = run(one(group, svc, links={"lan": Link()}, faults=faults, duration=30.0), 8)
    c = r.bins[r.bins.entity_kind == "client"].set_index("bin_start")
    quiet = c.loc[[0.0, 1.0, 5.0, 9.0, 13.0, 17.0, 21.0, 29.0], "successes"]
    assert (quiet > 150).all()
    for start in (2.0, 6.0, 10.0, 14.0, 18.0):
        assert c.loc[start, "successes"] < 20, start
    assert c.loc[22.0, "successes"] < quiet.min()
    ev = r.summary["failure_evidence"]["retries_exhausted"]
    assert ev["connection_refused"] > 150 and ev["http_500"] > 150 and ev["timeout"] > 300


def test_cas_conflicts_are_transient_serialization_failures() -> None:
    group = ClientGroup(
        target="row",
        instances=30,
        operation="cas",
        workload=Fixed(requests=1),
        link="net",
        retry=RetryConfig(max_attempts=1000, backoff=ConstantBackoff(base=0.01)),
    )
    sc = Scenario(
        name="cas",
        duration=100.0,
        slo_latency=1.0,
        clients={"c": group},
        services={"row": Service(workers=0)},
        links={"net": Link(latency=Constant(0.005))},
    )
    r = run(sc, 9)
    s = r.summary
    assert s["successes"] == 30 and s["failures"] == {}
    assert s["attempts"] > 30 and s["calls"]["c->row"]["write"] == s["attempts"]
    assert 'resilience_attempts_total{name="c->row",outcome="error",' in r.series


def test_run_many_returns_one_row_per_run() -> None:
    sc = one(ClientGroup(target="api", workload=Poisson(rate=20.0)), Service(workers=0), duration=5.0)
    with ThreadPoolExecutor(2) as ex:
        df = run_many([sc, dataclasses.replace(sc, name="u")], seeds=[1, 2, 3], executor=ex)
    assert len(df) == 6 and set(df["scenario"]) == {"t", "u"}
    assert {"requests", "success_ratio", "latency_p99", "recovery_seconds"} <= set(df.columns)
    assert df.groupby("seed")["requests"].nunique().eq(1).all()  # same seed, same arrivals
    procs = run_many(sc, seeds=[1, 2])
    assert procs["requests"].tolist() == df[df.scenario == "t"]["requests"].tolist()[:2]
