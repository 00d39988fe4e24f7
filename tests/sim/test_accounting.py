"""Accounting identities of the summary, per group and in the time bins."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from simcase import identity, small

from resilience.breaker import BreakerConfig
from resilience.budget import TokenBucketBudgetConfig
from resilience.core import RetryConfig
from sim import (
    ClientGroup,
    ClosedLoop,
    Constant,
    ErrorSpec,
    Exponential,
    Fixed,
    Outage,
    Partition,
    Poisson,
    Scenario,
    Service,
    run,
)
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted([*SCENARIOS.glob("*.toml"), *SCENARIOS.glob("truth/*.toml")])
SERVICE_FATES = ("served", "fast_errors", "refused", "queue_full", "cancelled", "in_flight_at_end")


def test_requests_equal_outcomes_plus_in_flight() -> None:
    s = run(small(), 1).summary
    req, parts = identity(s)
    assert req == parts and req > 2000
    assert s["in_flight_at_end"] >= 0
    assert s["attempts"] == sum(s["calls"]["web->api"].values())
    # retries happened (a latency spike against attempt timeouts), never past max_attempts = 3
    assert s["requests"] < s["attempts"] <= 3 * s["requests"]


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
    # refused before any attempt (no evidence), or on a retry after a connection refusal
    evidence = s["failure_evidence"]["breaker_open"]
    assert set(evidence) == {"none", "connection_refused"} and all(n > 0 for n in evidence.values())
    assert sum(evidence.values()) == s["failures"]["breaker_open"]
    # every attempt is a call on the edge; rejections never reach it
    assert s["attempts"] == s["calls"]["web->api"]["call"]
    assert s["attempts"] < s["requests"] * 3
    b = s["breakers"]["web->api"]
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
    calls = s["calls"]["c->row"]
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


# -- services: every arrival has exactly one fate --------------------------------------
def service_balance(svc: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """(arrivals, each fate's count); a fate the summary lacks counts as 0."""
    return svc["arrivals"], {k: svc.get(k, 0) for k in SERVICE_FATES}


def assert_services_balance(s: dict[str, Any]) -> None:
    for name, svc in s["services"].items():
        arrivals, fates = service_balance(svc)
        assert arrivals == sum(fates.values()), f"{name}: {arrivals} arrivals against {fates}"
        assert set(SERVICE_FATES) <= set(svc), f"{name}: summary lacks {set(SERVICE_FATES) - set(svc)}"


def one_service(svc: Service, group: ClientGroup, duration: float = 20.0, warmup: float = 0.0) -> Scenario:
    return Scenario(
        name="svc",
        duration=duration,
        warmup=warmup,
        slo_latency=1.0,
        clients={"web": group},
        services={"api": svc},
    )


def test_fast_errors_are_a_fate_of_their_own() -> None:
    # 30% of calls answered at once with a 503 (not refused): they used to vanish from the summary
    svc = Service(
        workers=2,
        queue=5,
        service_time=Exponential(mean=0.05),
        errors=(ErrorSpec(probability=0.3, status=503, fast=True),),
    )
    group = ClientGroup(target="api", workload=Poisson(rate=40.0), retry=RetryConfig(max_attempts=1))
    s = run(one_service(svc, group, warmup=2.0), 11).summary
    assert_services_balance(s)
    api = s["services"]["api"]
    assert abs(api["fast_errors"] / api["arrivals"] - 0.3) < 0.05
    assert api["refused"] == 0 and api["cancelled"] == 0
    # one attempt per request: each fast 503 is a failed request
    assert s["failure_evidence"]["retries_exhausted"]["http_503"] == api["fast_errors"]


def test_in_flight_is_what_the_service_holds_at_the_end() -> None:
    # service times far beyond the horizon: the 2 workers and the 3 queue places stay full
    svc = Service(workers=2, queue=3, service_time=Constant(1000.0))
    group = ClientGroup(target="api", workload=Poisson(rate=20.0), retry=RetryConfig(max_attempts=1))
    s = run(one_service(svc, group, duration=10.0), 12).summary
    api = s["services"]["api"]
    assert api["in_flight_at_end"] == 5
    assert api["served"] == 0 and api["queue_full"] == api["arrivals"] - 5 > 100
    assert_services_balance(s)


def test_in_flight_excludes_calls_that_arrived_before_warmup() -> None:
    # one worker busy for the whole run with a call that arrived during warm-up: not counted
    svc = Service(workers=1, queue=-1, service_time=Constant(1000.0))
    group = ClientGroup(target="api", workload=Poisson(rate=10.0), retry=RetryConfig(max_attempts=1))
    s = run(one_service(svc, group, duration=10.0, warmup=5.0), 13).summary
    api = s["services"]["api"]
    assert api["in_flight_at_end"] == api["arrivals"] > 20  # all queued behind the early call
    assert api["served"] == 0
    assert_services_balance(s)


def test_cancelled_calls_are_a_fate_of_their_own() -> None:
    svc = Service(workers=2, queue=50, service_time=Exponential(mean=0.2), cancel_on_timeout=True)
    group = ClientGroup(
        target="api", workload=Poisson(rate=15.0), retry=RetryConfig(max_attempts=2, attempt_timeout=0.1)
    )
    s = run(one_service(svc, group, warmup=2.0), 14).summary
    api = s["services"]["api"]
    assert api["cancelled"] > 50
    assert s["attempts"] > s["requests"]  # the timeouts were retried
    assert_services_balance(s)


def short(sc: Scenario) -> Scenario:
    """``sc`` cut to a short horizon that keeps its warm-up and its faults."""
    last_fault = max((f.end for f in sc.faults), default=0.0)
    horizon = min(sc.duration, max(60.0, 3 * sc.warmup, last_fault + 20.0))
    return dataclasses.replace(
        sc,
        duration=horizon,
        bin_width=min(sc.bin_width, horizon),
        scrape_interval=min(sc.scrape_interval, horizon),
    )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_shipped_scenario_balances_its_services(path: Path) -> None:
    s = run(short(load_scenario(path)), 1).summary
    assert_services_balance(s)
    assert all(svc["arrivals"] > 0 for svc in s["services"].values())
