"""Checks of truth: the simulator's queues against exact queueing theory.

Short runs at rho <= 0.7 check each measure against the exact formula with a
relative-error bound several standard errors wide (fixed seed), and exact
sample-path identities on the same run: conservation of requests and calls,
and Little's law between the time-average number in the system and the mean
sojourn. The ``verify`` runs go up to rho = 0.9 over 20 replications: the
99% confidence interval of each measure must be no wider than 3% of the exact
value (precision), and the exact value must lie in the simultaneous 99%
intervals of all the measures checked (Bonferroni: each at 1 - 0.01/k for k
measures), so that the whole family, not each member, has a 1% false-alarm
rate. Near saturation the per-replication means are right-skewed (rare long
excursions), so a few replications tend to underestimate the spread; 20
replications and the family-wise level keep the intervals honest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from truth_support import SEED, cached_summary, pool, rel, truth_scenario

from sim.experiments import theory
from sim.experiments.stats import replicate, t_interval
from sim.scenario.spec import Scenario
from sim.scenario.workloads import Poisson

# name: (exact measures, bound for W and L, bound for Wq and Lq), relative errors. Each bound is
# about 4.5 standard deviations of that measure, the deviations measured over 10 seeds.
SHORT: dict[str, tuple[theory.QueueMetrics, float, float]] = {
    "mm1": (theory.mm1(0.7, 1.0), 0.065, 0.09),
    "mmc": (theory.mmc(2.8, 1.0, 4), 0.04, 0.11),
    "md1": (theory.md1(0.7, 1.0), 0.04, 0.06),
    "mmck": (theory.mmck(1.4, 1.0, 2, 5), 0.03, 0.06),
}


def _service(summary: dict[str, Any]) -> dict[str, Any]:
    return summary["services"]["queue"]


def _window(scenario: Scenario, summary: dict[str, Any]) -> float:
    return float(summary["sim_seconds"]) - scenario.warmup


# -- exact formulas, short runs --------------------------------------------------
@pytest.mark.parametrize("name", SHORT)
def test_sojourn_and_waiting_time_match_theory(name: str) -> None:
    exact, bound, bound_q = SHORT[name]
    svc = _service(cached_summary(name))
    assert rel(svc["mean_sojourn_seconds"], exact.w) < bound, (svc, exact)
    assert rel(svc["mean_wait_seconds"], exact.wq) < bound_q, (svc, exact)


@pytest.mark.parametrize("name", SHORT)
def test_numbers_in_system_and_queue_match_theory(name: str) -> None:
    exact, bound, bound_q = SHORT[name]
    svc = _service(cached_summary(name))
    assert rel(svc["mean_in_system"], exact.l) < bound, (svc, exact)
    assert rel(svc["mean_in_queue"], exact.lq) < bound_q, (svc, exact)


@pytest.mark.parametrize("name", SHORT)
def test_utilisation_matches_carried_load(name: str) -> None:
    exact, _, _ = SHORT[name]
    svc = _service(cached_summary(name))
    assert rel(svc["utilisation"], exact.rho) < 0.02, (svc, exact)


def test_mmck_blocking_probability_matches_theory() -> None:
    exact, _, _ = SHORT["mmck"]
    svc = _service(cached_summary("mmck"))
    p_block = svc["queue_full"] / svc["arrivals"]
    assert rel(p_block, exact.p_block) < 0.10, (svc, exact)  # 4 standard deviations


def test_mmc_probability_of_waiting_matches_erlang_c() -> None:
    exact, _, _ = SHORT["mmc"]
    svc = _service(cached_summary("mmc"))
    p_wait = svc["waited"] / svc["served"]
    # 4.5 standard deviations: the relative error's deviation over 10 seeds is 0.6%
    assert rel(p_wait, exact.p_wait) < 0.027, (svc, exact)


def test_client_latency_is_the_service_sojourn_over_an_ideal_link() -> None:
    s = cached_summary("mm1")
    assert rel(s["latency_seconds"]["mean"], _service(s)["mean_sojourn_seconds"]) < 0.002


# -- exact sample-path identities ------------------------------------------------
@pytest.mark.parametrize("name", SHORT)
def test_requests_are_conserved(name: str) -> None:
    s = cached_summary(name)
    assert s["requests"] == s["successes"] + sum(s["failures"].values()) + s["in_flight_at_end"]
    assert sum(s["degraded"].values()) == 0
    assert s["attempts"] == s["requests"]  # one attempt each: max_attempts = 1
    assert s["calls"]["arrivals->queue"]["call"] == s["attempts"]
    svc = _service(s)
    assert svc["arrivals"] == svc["served"] + svc["queue_full"] + svc["refused"] + s["in_flight_at_end"]


def test_every_blocked_arrival_is_a_failed_request() -> None:
    s = cached_summary("mmck")
    svc = _service(s)
    assert svc["queue_full"] > 0
    assert s["failures"] == {"retries_exhausted": svc["queue_full"]}
    assert s["failure_evidence"]["retries_exhausted"] == {"queue_full": svc["queue_full"]}


@pytest.mark.parametrize("name", SHORT)
def test_littles_law_holds_on_the_sample_path(name: str) -> None:
    """L = λ·W and Lq = λ·Wq on the same run, up to the requests cut by the window's ends."""
    s = cached_summary(name)
    svc = _service(s)
    lam = svc["served"] / _window(truth_scenario(name), s)
    assert rel(svc["mean_in_system"], lam * svc["mean_sojourn_seconds"]) < 1e-4, svc
    assert rel(svc["mean_in_queue"], lam * svc["mean_wait_seconds"]) < 1e-4, svc
    # Busy servers two ways: the time integral of busy workers (utilisation x servers) against the
    # service time the served requests received (sojourn minus wait, per request), times λ.
    workers = truth_scenario(name).services["queue"].workers
    service_seconds = svc["mean_sojourn_seconds"] - svc["mean_wait_seconds"]
    assert rel(svc["utilisation"] * workers, lam * service_seconds) < 1e-4, svc


# -- long runs: 99% confidence intervals over replications ------------------------
REPLICATIONS = 20

# name, arrival rate, exact, duration (simulated seconds), warm-up
LONG: list[tuple[str, float, theory.QueueMetrics, float, float]] = [
    ("mm1", 0.8, theory.mm1(0.8, 1.0), 700_000.0, 5_000.0),
    ("md1", 0.9, theory.md1(0.9, 1.0), 500_000.0, 5_000.0),
    ("mmc", 3.6, theory.mmc(3.6, 1.0, 4), 320_000.0, 5_000.0),
    ("mmck", 1.8, theory.mmck(1.8, 1.0, 2, 5), 100_000.0, 1_000.0),
]


# The family of intervals checked by the test below: W, L, utilisation for each, p_block for M/M/c/K.
FAMILY = 3 * len(LONG) + 1


def _long_scenario(name: str, rate: float, duration: float, warmup: float) -> Scenario:
    sc = truth_scenario(name)
    group = dataclasses.replace(sc.clients["arrivals"], workload=Poisson(rate=rate))
    return dataclasses.replace(sc, duration=duration, warmup=warmup, clients={"arrivals": group})


@pytest.mark.verify
@pytest.mark.parametrize(("name", "rate", "exact", "duration", "warmup"), LONG, ids=[x[0] for x in LONG])
def test_long_run_confidence_intervals_cover_theory(
    name: str, rate: float, exact: theory.QueueMetrics, duration: float, warmup: float
) -> None:
    sc = _long_scenario(name, rate, duration, warmup)
    with pool() as ex:
        runs = replicate(sc, range(SEED, SEED + REPLICATIONS), ex)
    svc = [_service(r) for r in runs]
    checks = {
        "W": ([x["mean_sojourn_seconds"] for x in svc], exact.w),
        "L": ([x["mean_in_system"] for x in svc], exact.l),
        "utilisation": ([x["utilisation"] for x in svc], exact.rho),
    }
    if exact.p_block > 0:
        checks["p_block"] = ([x["queue_full"] / x["arrivals"] for x in svc], exact.p_block)
    for measure, (values, truth) in checks.items():
        mean, half = t_interval(values, 0.99)
        assert half <= 0.03 * truth, f"{name} {measure}: CI half-width {half:.4g} > 3% of {truth:.4g}"
        _, joint = t_interval(values, 1.0 - 0.01 / FAMILY)
        assert abs(mean - truth) <= joint, f"{name} {measure}: {mean:.5g} ± {joint:.3g} misses {truth:.5g}"
