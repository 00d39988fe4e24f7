"""Envoy's consecutive-5xx outlier detection (``sim/model/outliers.py``), alone and in a balancer.

Expected times below are worked out by hand from Envoy's rules: an ejection lasts
``min(base * multiplier, cap)``, ejected replicas return at the sweeps held every ``interval``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.model.balancers import BalancerRT
from sim.model.outliers import OutlierDetector
from sim.scenario.balancing import BalancerConfig, OutlierConfig


def detector(n: int = 4, seed: int = 0, **kw: object) -> OutlierDetector:
    cfg = OutlierConfig(**{"max_ejection_percent": 100.0, **kw})  # type: ignore[arg-type]
    return OutlierDetector(cfg, n, np.random.default_rng(seed))


def fail(od: OutlierDetector, i: int, now: float, times: int) -> None:
    for _ in range(times):
        od.record(i, now, True)


# -- when a replica is ejected -----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 5])
def test_ejected_after_exactly_n_consecutive_failures_not_n_minus_1(n: int) -> None:
    od = detector(consecutive_5xx=n)
    fail(od, 2, 1.0, n - 1)
    assert not od.is_ejected(2) and od.ejected_count == 0  # N-1: still in
    fail(od, 2, 1.0, 1)
    assert od.is_ejected(2) and od.ejected_count == 1 and od.ejections == [0, 0, 1, 0]


def test_a_success_resets_the_count() -> None:
    od = detector(consecutive_5xx=5)
    fail(od, 1, 1.0, 4)
    od.record(1, 1.1, False)
    fail(od, 1, 1.2, 4)
    assert not od.is_ejected(1)
    fail(od, 1, 1.3, 1)  # the fifth in a row since the success
    assert od.is_ejected(1)


def test_failures_are_counted_per_replica() -> None:
    od = detector(consecutive_5xx=3)
    for k in range(6):  # interleaved: each replica sees 3 in a row of its own
        od.record(k % 2, 1.0, True)
    assert od.is_ejected(0) and od.is_ejected(1)
    od2 = detector(consecutive_5xx=3)
    for k in range(6):  # replica 0 fails, replica 1 succeeds in between: only 0 goes
        od2.record(0 if k % 2 == 0 else 1, 1.0, k % 2 == 0)
    assert od2.is_ejected(0) and not od2.is_ejected(1)


# -- how long it stays out ---------------------------------------------------------------------


def test_returns_at_the_first_sweep_after_base_times_the_number_of_ejections() -> None:
    od = detector(interval=1.0, base_ejection_time=30.0)
    fail(od, 0, 0.5, 5)  # 1st ejection: 30 s, due 30.5, returned at the sweep at 31
    od.advance(30.99)
    assert od.is_ejected(0)
    od.advance(31.0)
    assert not od.is_ejected(0)
    fail(od, 0, 31.0, 5)  # at once again: 2nd in a row, 60 s, back at 91
    assert od.ejected_for[0] == 60.0
    od.advance(90.99)
    assert od.is_ejected(0)
    od.advance(91.0)
    assert not od.is_ejected(0)
    fail(od, 0, 91.0, 5)  # 3rd: 90 s, back at 181
    od.advance(180.99)
    assert od.is_ejected(0)
    od.advance(181.0)
    assert not od.is_ejected(0) and od.ejections[0] == 3


def test_the_multiplier_decays_while_the_replica_stays_in_service() -> None:
    od = detector(interval=1.0, base_ejection_time=30.0)
    fail(od, 0, 0.5, 5)
    od.advance(31.0)  # back; multiplier 1
    od.advance(32.0)  # in service for one interval: multiplier 0
    assert od.multiplier[0] == 0
    fail(od, 0, 40.0, 5)  # so the next ejection is 30 s again, not 60
    assert od.ejected_for[0] == 30.0
    od.advance(69.99)
    assert od.is_ejected(0)
    od.advance(70.0)
    assert not od.is_ejected(0)


def test_ejection_time_is_capped_by_max_ejection_time() -> None:
    od = detector(interval=1.0, base_ejection_time=30.0, max_ejection_time=45.0)
    lengths = []
    t = 0.0
    for _ in range(4):
        fail(od, 0, t, 5)
        lengths.append(od.ejected_for[0])
        t += od.ejected_for[0]
        od.advance(math.ceil(t))
        assert not od.is_ejected(0)
        t = math.ceil(t)
    assert lengths == [30.0, 45.0, 45.0, 45.0]


def test_the_default_cap_is_300_seconds() -> None:
    od = detector(interval=1.0, base_ejection_time=100.0)
    lengths = []
    t = 0.0
    for _ in range(5):
        fail(od, 0, t, 5)
        lengths.append(od.ejected_for[0])
        t += od.ejected_for[0]
        od.advance(t)
    assert lengths == [100.0, 200.0, 300.0, 300.0, 300.0]


def test_jitter_lengthens_each_ejection_by_up_to_its_maximum_deterministically() -> None:
    lengths: dict[int, list[float]] = {}
    for seed in (1, 1, 2):
        od = detector(seed=seed, max_ejection_time_jitter=5.0)
        fail(od, 0, 0.0, 5)
        lengths.setdefault(seed, []).append(od.ejected_for[0])
    assert lengths[1][0] == lengths[1][1]
    assert lengths[1][0] != lengths[2][0]
    assert all(30.0 <= v <= 35.0 for vs in lengths.values() for v in vs)
    assert detector(max_ejection_time_jitter=0.0).ejected_for == [0.0] * 4


def test_lazy_sweeps_equal_sweeps_run_on_a_timer() -> None:
    """Recording with sweeps only on demand gives the state that a sweep timer would."""
    rng = np.random.default_rng(9)
    lazy = detector(n=5, interval=2.0, base_ejection_time=3.0, max_ejection_time=10.0)
    timed = detector(n=5, interval=2.0, base_ejection_time=3.0, max_ejection_time=10.0)
    t = 0.0
    for _ in range(3_000):
        t += float(rng.exponential(0.3))
        i, failed = int(rng.integers(5)), bool(rng.random() < 0.6)
        while timed.next_sweep <= t:  # the timer: every sweep at its own time
            timed.advance(timed.next_sweep)
        timed.record(i, t, failed)
        lazy.record(i, t, failed)
        for name in ("consecutive", "multiplier", "ejections", "ejected_count", "overflow"):
            assert getattr(lazy, name) == getattr(timed, name), name
        assert [lazy.is_ejected(k) for k in range(5)] == [timed.is_ejected(k) for k in range(5)]
        assert np.array_equal(lazy.returned_at, timed.returned_at, equal_nan=True)
    assert lazy.total_ejections > 50  # the sequence did exercise ejection and return


# -- how many may be out -----------------------------------------------------------------------


def test_max_ejection_percent_is_respected() -> None:
    od = detector(n=10, max_ejection_percent=30.0, interval=1.0)
    for i in range(4):
        fail(od, i, 1.0, 5)
    assert od.ejected_count == 3 and not od.is_ejected(3) and od.overflow == 1
    od.advance(31.0)  # all three back
    fail(od, 3, 31.0, 4)  # the count restarted after the refused ejection
    assert not od.is_ejected(3)
    fail(od, 3, 31.0, 1)
    assert od.is_ejected(3) and od.ejected_count == 1


def test_default_ten_percent_ejects_nothing_below_ten_replicas_unless_one_host_is_allowed() -> None:
    rng = np.random.default_rng(0)
    od = OutlierDetector(OutlierConfig(), 4, rng)
    fail(od, 0, 1.0, 5)
    assert od.ejected_count == 0 and od.overflow == 1
    one = OutlierDetector(OutlierConfig(always_eject_one_host=True), 4, rng)
    fail(one, 0, 1.0, 5)
    fail(one, 1, 1.0, 5)
    assert one.is_ejected(0) and not one.is_ejected(1) and one.overflow == 1
    twenty = OutlierDetector(OutlierConfig(), 20, rng)
    for i in range(3):
        fail(twenty, i, 1.0, 5)
    assert twenty.ejected_count == 2 and twenty.overflow == 1


def test_a_replica_already_out_is_not_ejected_again() -> None:
    od = detector(consecutive_5xx=2)
    fail(od, 0, 1.0, 2)
    fail(od, 0, 1.5, 10)  # answers to attempts sent before the ejection
    assert od.ejections[0] == 1 and od.ejected_count == 1 and od.consecutive[0] == 0


# -- in the balancer ---------------------------------------------------------------------------


def test_the_balancer_skips_an_ejected_replica_and_takes_it_back_after_the_ejection() -> None:
    cfg = BalancerConfig(
        policy="round_robin",
        outlier=OutlierConfig(max_ejection_percent=50.0, interval=1.0, base_ejection_time=10.0),
    )
    b = BalancerRT(cfg, 4, np.random.default_rng(0))
    for _ in range(5):
        b.started(1)
        b.ended(1, 2.0, True)
    assert b.ejected == 1 and b.ejections == 1
    assert [b.pick(2.0) for _ in range(6)] == [0, 2, 3, 0, 2, 3]
    assert 1 not in {b.pick(11.99) for _ in range(6)}
    assert [b.pick(12.0) for _ in range(4)] == [0, 1, 2, 3]
    assert b.ejected == 0


def test_an_ejection_refused_by_the_percentage_is_counted() -> None:
    b = BalancerRT(BalancerConfig(), 4, np.random.default_rng(0))  # Envoy's defaults: 10%
    for _ in range(5):
        b.started(3)
        b.ended(3, 1.0, True)
    assert b.ejected == 0 and b.ejections_overflow == 1
    assert 3 in {b.pick(1.0) for _ in range(4)}
