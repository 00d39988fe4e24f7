"""Checks of truth: retries under independent failures, with and without a budget or a breaker.

With each call failing independently with probability p and N attempts
allowed, a request makes 1 + p + ... + p^(N-1) attempts on average and
succeeds with probability 1 - p^N. A retry budget or a breaker that never
binds must leave both unchanged; one that binds must bound the attempts
exactly as its definition implies.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from truth_support import SEED, cached_summary, rel, truth_scenario

from resilience.breaker import BreakerConfig
from resilience.budget import TokenBucketBudgetConfig
from sim.experiments import theory
from sim.experiments.stats import binomial_bound, summary_of
from sim.scenario.spec import ErrorSpec, Scenario

EDGE = "callers->flaky"


def _variant(p: float, n: int, **group_changes: Any) -> Scenario:
    sc = truth_scenario("retry_p")
    group = sc.clients["callers"]
    group = dataclasses.replace(
        group, retry=dataclasses.replace(group.retry, max_attempts=n), **group_changes
    )
    service = dataclasses.replace(sc.services["flaky"], errors=(ErrorSpec(probability=p, status=500),))
    return dataclasses.replace(sc, clients={"callers": group}, services={"flaky": service})


def _attempts_sd(p: float, n: int) -> float:
    """Standard deviation of the attempts one request makes."""
    probs = [(1 - p) * p**k for k in range(n - 1)] + [p ** (n - 1)]
    mean = sum((k + 1) * q for k, q in enumerate(probs))
    return math.sqrt(sum((k + 1 - mean) ** 2 * q for k, q in enumerate(probs)))


def _check_against_theory(s: dict[str, Any], p: float, n: int) -> None:
    finished = s["requests"] - s["in_flight_at_end"]
    assert finished > 20_000
    load = s["attempts"] / s["requests"]
    success = s["successes"] / finished
    exact_load = theory.retry_expected_attempts(p, n)
    exact_success = theory.retry_success_probability(p, n)
    assert abs(load - exact_load) <= 4.5 * _attempts_sd(p, n) / math.sqrt(s["requests"]), (load, exact_load)
    assert abs(success - exact_success) <= binomial_bound(exact_success, finished), (success, exact_success)
    # Every failure used all N attempts on transient errors: nothing else ended a request.
    failed = sum(s["failures"].values())
    assert s["failures"] == ({"retries_exhausted": failed} if failed else {})


@pytest.mark.parametrize(("p", "n"), [(0.3, 3), (0.6, 4), (0.1, 2), (0.5, 1)])
def test_load_and_success_match_independent_failures(p: float, n: int) -> None:
    s = cached_summary("retry_p") if (p, n) == (0.3, 3) else summary_of(_variant(p, n), SEED)
    _check_against_theory(s, p, n)
    assert s["calls"][EDGE]["call"] == s["attempts"]


def test_a_budget_and_a_breaker_that_never_bind_change_nothing() -> None:
    # Default token bucket: +1 token per first-attempt success (0.7 per request) against
    # 5 per failed retry (0.117 per request): the bucket never empties. The breaker needs a
    # 50% failure rate over 100 calls; at p = 0.3 that has probability < 1e-5 per check.
    # Same seed: every request, attempt and latency must equal the run that has neither.
    bare = summary_of(_variant(0.3, 3), SEED)
    guarded = summary_of(
        _variant(
            0.3,
            3,
            budget=TokenBucketBudgetConfig(),
            breaker=BreakerConfig(window_size=100, minimum_calls=100, failure_rate_threshold=0.5),
        ),
        SEED,
    )
    assert bare["breakers"] == {}
    assert guarded["breakers"] == {EDGE: {"opened": 0, "open_seconds": 0.0, "peak_open_fraction": 0.0}}
    unrelated = ("breakers", "timing")  # the breaker's own entry; wall-clock timing
    assert {k: v for k, v in guarded.items() if k not in unrelated} == {
        k: v for k, v in bare.items() if k not in unrelated
    }
    _check_against_theory(guarded, 0.3, 3)


def test_a_binding_token_bucket_obeys_its_token_balance() -> None:
    """p = 0.6: the bucket runs dry; granted retries R then satisfy r·p·R ≈ C·instances + i·S1.

    Each retry takes r tokens and gives them back if it succeeds (probability
    1 - p); each first-attempt success S1 adds i. With the bucket near empty
    the tokens in equal the tokens out.
    """
    cfg = TokenBucketBudgetConfig()
    p, n = 0.6, 3
    sc = _variant(p, n, budget=cfg)
    s = summary_of(sc, SEED)
    inst = sc.clients["callers"].instances
    retries = s["attempts"] - s["requests"]
    first_successes = (1 - p) * s["requests"]
    expected = (cfg.capacity * inst + cfg.no_retry_increment * first_successes) / (cfg.retry_cost * p)
    assert rel(retries, expected) < 0.05, (retries, expected)
    unbounded = theory.retry_expected_attempts(p, n) - 1
    assert retries / s["requests"] < 0.25 * unbounded
    assert s["failures"]["budget_exhausted"] > 0


def test_an_empty_token_bucket_grants_exactly_capacity_over_cost_retries() -> None:
    s = cached_summary("retry_budget")
    sc = truth_scenario("retry_budget")
    cfg = sc.clients["callers"].budget
    inst = sc.clients["callers"].instances
    granted = inst * (cfg.capacity // cfg.retry_cost)
    assert s["attempts"] == s["requests"] + granted
    assert s["successes"] == 0
    finished = s["requests"] - s["in_flight_at_end"]
    assert s["failures"]["budget_exhausted"] + s["failures"]["retries_exhausted"] == finished
    assert s["failures"]["budget_exhausted"] >= finished - granted


def test_an_open_breaker_lets_through_only_what_its_definition_permits() -> None:
    s = cached_summary("retry_breaker")
    sc = truth_scenario("retry_breaker")
    g = sc.clients["callers"]
    cfg, inst = g.breaker, g.instances
    edge = "callers->broken"
    opened = s["breakers"][edge]["opened"]
    probes = cfg.permitted_calls_in_half_open
    first_trip = cfg.minimum_calls
    # Each instance: minimum_calls failures to trip, then `probes` failed probes per re-open,
    # plus at most one half-open round still in progress at the end.
    assert (
        inst * first_trip + probes * (opened - inst) <= s["attempts"] <= inst * first_trip + probes * opened
    )
    # Re-opens are at least wait_in_open apart; with 100 requests/s per instance the probes
    # come within milliseconds of the wait's end, so nearly every second re-opens.
    per_instance = opened / inst
    assert 0.9 * sc.duration / cfg.wait_in_open <= per_instance <= 1 + sc.duration / cfg.wait_in_open
    assert s["successes"] == 0
    finished = s["requests"] - s["in_flight_at_end"]
    assert s["failures"]["breaker_open"] + s["failures"]["retries_exhausted"] == finished
    assert s["calls"][edge]["call"] == s["attempts"]
