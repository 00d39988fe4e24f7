"""Checks of truth: the 2015 AWS Architecture Blog backoff-and-jitter experiment.

Clients contend on one row with optimistic concurrency (the simulator's
compare-and-set store), one-way network |N(10 ms, 2 ms)|, backoff base 5 ms,
cap 2 s, first retry at attempt 1. The blog's findings, asserted on means
over trials: full and equal jitter each make < 0.6x the write calls of
exponential backoff without jitter and of no backoff; decorrelated jitter
< 0.7x exponential; no backoff finishes first; exponential without jitter
takes >= 5x longer than every jittered strategy.

The same experiment also runs on an independent port of the blog's own event
model (awslabs/aws-arch-backoff-simulator); the simulator must agree with it
within four standard errors. ``make test`` runs 30 trials per point at 50
clients; ``make verify`` runs 100 trials per point at 50 and 100 clients.
"""

from __future__ import annotations

import math

import pytest

from sim.experiments.aws_jitter import PointResult, reference_trial, run_point, simulated_trial

JITTERED = ("full", "equal", "decorrelated")
ALL = ("none", "exponential", *JITTERED)
SEED = 20150304


def _points(clients: int, trials: int, simulated: bool) -> dict[str, PointResult]:
    trial = simulated_trial if simulated else None
    return {s: run_point(s, clients, trials, SEED + 1000 * i, trial) for i, s in enumerate(ALL)}


def _assert_blog_findings(r: dict[str, PointResult]) -> None:
    w = {s: p.writes for s, p in r.items()}
    t = {s: p.completion for s, p in r.items()}
    for s in ("full", "equal"):
        assert w[s] < 0.6 * w["exponential"], (s, w)
        assert w[s] < 0.6 * w["none"], (s, w)
    assert w["decorrelated"] < 0.7 * w["exponential"], w
    assert t["none"] == min(t.values()), t
    for s in JITTERED:
        assert t["exponential"] >= 5 * t[s], (s, t)


def _assert_agree(sim: PointResult, ref: PointResult, z: float = 4.0) -> None:
    for field in ("writes", "completion"):
        a, b = getattr(sim, field), getattr(ref, field)
        se = math.hypot(getattr(sim, f"{field}_se"), getattr(ref, f"{field}_se"))
        assert abs(a - b) <= z * se, (
            f"{sim.strategy}/{sim.clients} {field}: simulator {a:.4g} vs model {b:.4g}"
        )


def test_reference_model_reproduces_the_blog() -> None:
    for clients in (50, 100):
        _assert_blog_findings(_points(clients, 30, simulated=False))


def test_simulator_reproduces_the_blog_at_50_clients() -> None:
    sim = _points(50, 30, simulated=True)
    _assert_blog_findings(sim)
    ref = _points(50, 100, simulated=False)
    for s in ALL:
        _assert_agree(sim[s], ref[s])


@pytest.mark.verify
@pytest.mark.parametrize("clients", [50, 100])
def test_simulator_reproduces_the_blog_with_100_trials(clients: int) -> None:
    sim = _points(clients, 100, simulated=True)
    _assert_blog_findings(sim)
    ref = _points(clients, 300, simulated=False)
    for s in ALL:
        _assert_agree(sim[s], ref[s])


def test_reference_trial_is_deterministic_for_a_seed() -> None:
    import random

    from sim.experiments.aws_jitter import STRATEGIES

    a = reference_trial(20, STRATEGIES["full"], random.Random(7))
    b = reference_trial(20, STRATEGIES["full"], random.Random(7))
    assert a == b and a.writes >= 20
