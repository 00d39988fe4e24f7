"""Accounting identities of the summary, per group and in the time bins."""

from __future__ import annotations

import dataclasses

from simcase import identity, small

from resilience import RetryConfig
from resilience.breaker import BreakerConfig
from resilience.budget import TokenBucketBudgetConfig
from sim import (
    ClientGroup,
    ClosedLoop,
    Constant,
    ErrorSpec,
    Fixed,
    Outage,
    Partition,
    Poisson,
    Scenario,
    Service,
    run,
)


def test_requests_equal_outcomes_plus_in_flight() -> None:
    s = run(small(), 1).summary
    req, parts = identity(s)
    assert req == parts and req > 2000
    assert s["in_flight_at_end"] >= 0
    assert s["attempts"] == sum(s["calls"]["web→api"].values())
    assert s["amplification"] == s["attempts"] / s["requests"]
    assert s["successes"] >= s["goodput_ratio"] * s["requests"] - 1e-9


def test_in_flight_counted_independently_when_requests_hang() -> None:
    # a partition without attempt timeouts leaves requests hanging: they must show as in flight
    sc = small(
        clients={"web": ClientGroup(target="api", link="lan", workload=Poisson(rate=50.0))},
        faults=(Partition(target="lan", start=15.0, duration=5.0),),
    )
    s = run(sc, 2).summary
    req, parts = identity(s)
    assert req == parts
    assert s["in_flight_at_end"] > 100  # ~5 s x 50/s lost for good


def test_local_rejections_are_not_attempts_and_are_failure_causes() -> None:
    group = ClientGroup(
        target="api",
        instances=2,
        workload=Poisson(rate=100.0),
        retry=RetryConfig(max_attempts=3, attempt_timeout=0.05),
        breaker=BreakerConfig(window_size=10, minimum_calls=5, wait_in_open=1.0),
        budget=TokenBucketBudgetConfig(capacity=20, retry_cost=5, timeout_cost=10),
    )
    sc = small(clients={"web": group}, faults=(Outage(target="api", start=5.0, duration=5.0),), links={})
    s = run(sc, 3).summary
    req, parts = identity(s)
    assert req == parts
    assert s["failures"].get("breaker_open", 0) > 0
    assert s["failure_evidence"]["breaker_open"] == {"none": s["failures"]["breaker_open"]} or all(
        k in ("none", "connection_refused") for k in s["failure_evidence"]["breaker_open"]
    )
    # every attempt is a call on the edge; rejections never reach it
    assert s["attempts"] == s["calls"]["web→api"]["call"]
    assert s["attempts"] < s["requests"] * 3
    b = s["breakers"]["web→api"]
    assert b["opened"] >= 2 and 0 < b["open_seconds"] <= 18 and b["peak_open_fraction"] == 1.0


def test_degraded_answers_are_never_successes() -> None:
    group = ClientGroup(target="api", workload=Poisson(rate=100.0), fallback="cache")
    svc = Service(workers=0, errors=(ErrorSpec(probability=0.3, status=500),))
    s = run(small(clients={"web": group}, services={"api": svc}, links={}, faults=()), 4).summary
    req, parts = identity(s)
    assert req == parts
    assert s["failures"] == {} and s["degraded"]["cache"] > 0
    assert abs(s["degraded"]["cache"] / req - 0.3) < 0.05
    assert abs(s["success_ratio"] - 0.7) < 0.05


def test_closed_loop_and_cas_fixed_runs_balance() -> None:
    closed = ClientGroup(target="api", instances=3, workload=ClosedLoop(concurrency=4, think=Constant(0.01)))
    s = run(small(clients={"web": closed}, links={}, faults=()), 5).summary
    assert identity(s)[0] == identity(s)[1]
    cas = Scenario(
        name="cas",
        duration=50.0,
        slo_latency=1.0,
        clients={
            "c": ClientGroup(
                target="row",
                instances=20,
                operation="cas",
                workload=Fixed(requests=2),
                retry=RetryConfig(max_attempts=1000),
            )
        },
        services={"row": Service(workers=1, service_time=Constant(0.001))},
    )
    s = run(cas, 6).summary
    assert s["successes"] == 40 and s["in_flight_at_end"] == 0
    calls = s["calls"]["c→row"]
    assert calls["read"] == calls["write"] == s["attempts"] >= 40
    assert s["sim_seconds"] < 50.0  # the run ended when every request was done


def test_bins_add_up_to_all_requests() -> None:
    r = run(small(warmup=0.0, faults=()), 7)
    b = r.bins
    c = b[b.entity_kind == "client"]
    assert c["offered"].sum() == r.summary["requests"]
    assert c["successes"].sum() == r.summary["successes"]
    assert c["attempts"].sum() == r.summary["attempts"]
    svc = b[b.entity_kind == "service"]
    assert svc["arrivals"].sum() == r.summary["services"]["api"]["arrivals"]
    assert ((svc["utilisation"] >= 0) & (svc["utilisation"] <= 1 + 1e-9)).all()
    assert len(b) == 2 * 20  # one client row and one service row per 1 s bin


def test_warmup_excludes_early_arrivals() -> None:
    full = run(small(warmup=0.0, faults=()), 8).summary
    late = run(dataclasses.replace(small(faults=()), warmup=10.0), 8).summary
    assert late["requests"] < full["requests"] * 0.6
