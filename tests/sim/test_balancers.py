"""The balancer's policies, panic mode and config errors (``sim/model/balancers.py``)."""

from __future__ import annotations

import math
import tomllib
from collections import Counter

import numpy as np
import pytest
import tomli_w
from scipy.stats import chi2

from resilience._config import ConfigError
from sim.model.balancers import NO_REPLICA, BalancerRT
from sim.scenario.balancing import BalancerConfig, HealthCheckConfig, OutlierConfig
from sim.scenario.writer import plain


def balancer(policy: str, n: int, seed: int = 1, **kw: object) -> BalancerRT:
    cfg = BalancerConfig(policy=policy, outlier=None, **kw)  # type: ignore[arg-type]
    return BalancerRT(cfg, n, np.random.default_rng(seed))


def chi_square(counts: list[int]) -> float:
    total = sum(counts)
    expected = total / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


# -- round robin -------------------------------------------------------------------------------


def test_round_robin_cycles_exactly_and_skips_an_unhealthy_replica() -> None:
    b = balancer("round_robin", 5)
    assert [b.pick(0.0) for _ in range(15)] == [0, 1, 2, 3, 4] * 3
    b.set_healthy(2, False, 1.0)
    assert [b.pick(1.0) for _ in range(8)] == [0, 1, 3, 4] * 2
    b.set_healthy(2, True, 2.0)
    assert [b.pick(2.0) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert b.picks == [6, 6, 4, 6, 6] and b.panic_picks == 0


# -- random ------------------------------------------------------------------------------------


def test_random_is_uniform_by_a_chi_square_bound_and_a_skewed_set_fails_it() -> None:
    bound = chi2.ppf(0.999, df=4)
    b = balancer("random", 5, seed=7)
    counts = Counter(b.pick(0.0) for _ in range(20_000))
    assert chi_square([counts[i] for i in range(5)]) < bound
    # Negative control: with replica 4 out, the picks are far from uniform over all five,
    # and uniform again over the four left.
    b.set_healthy(4, False, 1.0)
    skewed = Counter(b.pick(1.0) for _ in range(20_000))
    assert skewed[4] == 0
    assert chi_square([skewed[i] for i in range(5)]) > 100 * bound
    assert chi_square([skewed[i] for i in range(4)]) < chi2.ppf(0.999, df=3)


def test_same_seed_same_picks_and_another_seed_other_picks() -> None:
    for policy in ("random", "p2c"):
        runs = []
        for seed in (3, 3, 4):
            b = balancer(policy, 8, seed=seed)
            seq = []
            for k in range(300):
                i = b.pick(k * 0.01)
                b.started(i)
                seq.append(i)
                if k % 3 == 0:
                    b.ended(seq[k // 2], k * 0.01, False)
            runs.append(seq)
        assert runs[0] == runs[1]
        assert runs[0] != runs[2]


# -- least outstanding -------------------------------------------------------------------------


def test_least_outstanding_always_picks_a_minimum_among_available_replicas() -> None:
    b = balancer("least_outstanding", 6)
    driver = np.random.default_rng(11)
    in_flight: list[int] = []
    b.set_healthy(5, False, 0.0)  # idle, so the least loaded of all, but out
    for step in range(2_000):
        if in_flight and driver.random() < 0.45:
            b.ended(in_flight.pop(int(driver.integers(len(in_flight)))), step, False)
            continue
        loads = list(b.outstanding)
        i = b.pick(float(step))
        assert i != 5
        assert loads[i] == min(loads[:5])
        b.started(i)
        in_flight.append(i)
    assert b.picks[5] == 0
    assert sum(b.picks) > 900


def test_least_outstanding_spreads_ties_round_the_replicas() -> None:
    b = balancer("least_outstanding", 4)
    seq = []
    for _ in range(12):
        i = b.pick(0.0)
        b.started(i)
        b.ended(i, 0.0, False)
        seq.append(i)
    assert seq == [0, 1, 2, 3] * 3


# -- power of two choices ----------------------------------------------------------------------


def test_p2c_takes_the_less_loaded_of_two_independent_draws() -> None:
    # Two replicas, loads 5 and 0: the busy one wins only when both draws land on it (1/4);
    # a uniform pick would take it half the time.
    b = balancer("p2c", 2, seed=5)
    for _ in range(5):
        b.started(0)
    share = Counter(b.pick(0.0) for _ in range(8_000))[0] / 8_000
    assert abs(share - 0.25) < 0.02


def max_load(policy: str, n: int, seed: int) -> int:
    b = balancer(policy, n, seed=seed)
    for _ in range(n):
        b.started(b.pick(0.0))
    return max(b.outstanding)


def test_p2c_cuts_the_max_load_of_balls_into_bins() -> None:
    # n balls into n bins: the max load is about ln n / ln ln n for one uniform choice and
    # ln ln n / ln 2 + O(1) for the better of two (Azar, Broder, Karlin and Upfal, 1994).
    n = 10_000
    one_choice = math.log(n) / math.log(math.log(n))  # 4.15
    two_choices = math.log(math.log(n)) / math.log(2)  # 3.20
    for seed in (1, 2, 3):
        random_max = max_load("random", n, seed)
        p2c_max = max_load("p2c", n, seed)
        assert random_max >= one_choice
        assert p2c_max <= two_choices + 2
        assert p2c_max < random_max


# -- panic mode --------------------------------------------------------------------------------


def test_below_half_available_the_balancer_panics_and_uses_every_replica() -> None:
    b = balancer("round_robin", 4)
    b.set_healthy(0, False, 0.0)
    b.set_healthy(1, False, 0.0)  # 50% available: not below the threshold
    assert [b.pick(0.0) for _ in range(4)] == [2, 3, 2, 3]
    assert not b.in_panic and b.panic_picks == 0
    b.set_healthy(2, False, 1.0)  # 25% available: panic
    assert b.in_panic
    assert [b.pick(1.0) for _ in range(8)] == [0, 1, 2, 3] * 2
    assert b.panic_picks == 8
    b.set_healthy(2, True, 2.0)
    assert not b.in_panic
    assert sorted({b.pick(2.0) for _ in range(6)}) == [2, 3]


def test_panic_counts_ejected_replicas_too() -> None:
    cfg = BalancerConfig(policy="random", outlier=OutlierConfig(consecutive_5xx=1, max_ejection_percent=100))
    b = BalancerRT(cfg, 4, np.random.default_rng(2))
    for i in (0, 1):
        b.started(i)
        b.ended(i, 0.5, True)
    assert b.ejected == 2 and not b.in_panic
    assert {b.pick(0.5) for _ in range(200)} == {2, 3}
    b.set_healthy(3, False, 0.6)  # one of four available
    assert b.in_panic
    assert {b.pick(0.6) for _ in range(200)} == {0, 1, 2, 3}


def test_without_panic_mode_no_available_replica_means_none() -> None:
    b = balancer("p2c", 3, panic_threshold=0.0)
    for i in range(3):
        b.set_healthy(i, False, 0.0)
    assert b.pick(0.0) == NO_REPLICA
    assert b.no_replica == 1 and sum(b.picks) == 0
    b.set_healthy(1, True, 1.0)
    assert {b.pick(1.0) for _ in range(20)} == {1}


def test_a_threshold_of_100_panics_as_soon_as_one_replica_is_out() -> None:
    b = balancer("round_robin", 3, panic_threshold=100.0)
    b.set_healthy(1, False, 0.0)
    assert b.in_panic and [b.pick(0.0) for _ in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("policy", ["round_robin", "random", "least_outstanding", "p2c"])
def test_every_policy_avoids_unavailable_replicas_except_in_panic(policy: str) -> None:
    od = OutlierConfig(consecutive_5xx=2, interval=0.5, base_ejection_time=1.0, max_ejection_percent=40)
    b = BalancerRT(BalancerConfig(policy=policy, outlier=od), 5, np.random.default_rng(4))
    driver = np.random.default_rng(8)
    in_flight: list[int] = []
    panics = outs = 0
    t = 0.0
    for _ in range(4_000):
        t += 0.01
        r = driver.random()
        if r < 0.02:
            b.set_healthy(int(driver.integers(5)), bool(driver.random() < 0.5), t)
        elif r < 0.5 and in_flight:
            i = in_flight.pop(0)
            b.ended(i, t, bool(driver.random() < 0.4))
        else:
            i = b.pick(t)
            unavailable = not b.available(i)
            outs += unavailable
            panics += b.in_panic
            assert b.in_panic or not unavailable
            b.started(i)
            in_flight.append(i)
    assert b.ejections > 20 and panics > 0 and outs > 0  # ejections, panic and its picks all happened
    assert sum(b.outstanding) == len(in_flight)


# -- config errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: BalancerConfig(policy="weighted"),
            "BalancerConfig.policy='weighted': must be one of round_robin, random, least_outstanding, p2c",
        ),
        (
            lambda: BalancerConfig(panic_threshold=120),
            "BalancerConfig.panic_threshold=120.0: must be in [0, 100]",
        ),
        (
            lambda: BalancerConfig.from_dict({"outlier": {"consecutive_5xx": 0}}),
            "OutlierConfig.consecutive_5xx=0: must be in 1..1000000",
        ),
        (
            lambda: OutlierConfig(max_ejection_percent=-1),
            "OutlierConfig.max_ejection_percent=-1.0: must be in [0, 100]",
        ),
        (
            lambda: OutlierConfig(base_ejection_time=60, max_ejection_time=30),
            "OutlierConfig.max_ejection_time=30.0: must be >= base_ejection_time (60.0)",
        ),
        (lambda: OutlierConfig(interval=0), "OutlierConfig.interval=0.0: must be > 0 and finite"),
        (lambda: HealthCheckConfig(timeout=-1), "HealthCheckConfig.timeout=-1.0: must be > 0 and finite"),
        (
            lambda: HealthCheckConfig(unhealthy_threshold=0),
            "HealthCheckConfig.unhealthy_threshold=0: must be in 1..1000",
        ),
        (lambda: BalancerConfig.from_dict({"kind": "p2c"}), "BalancerConfig.kind='p2c': unknown field"),
    ],
)
def test_config_errors_name_the_field_the_value_and_the_rule(make: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make()  # type: ignore[operator]
    assert str(err.value) == message


def test_defaults_are_envoys_and_round_trip() -> None:
    cfg = BalancerConfig()
    assert cfg.policy == "round_robin" and cfg.panic_threshold == 50.0 and cfg.health_check is None
    od = cfg.outlier
    assert od is not None
    assert (od.consecutive_5xx, od.interval, od.base_ejection_time, od.max_ejection_percent) == (
        5,
        10.0,
        30.0,
        10.0,
    )
    assert od.ejection_cap == 300.0 and OutlierConfig(base_ejection_time=400).ejection_cap == 400.0
    assert not od.always_eject_one_host and od.uneject_on_health_check
    full = BalancerConfig(policy="p2c", health_check=HealthCheckConfig(interval=2.0))
    assert BalancerConfig.from_dict(full.to_dict()) == full


def test_outlier_detection_off_survives_toml_and_ejects_nothing() -> None:
    off = BalancerConfig(policy="random", outlier=None)
    assert off == BalancerConfig(policy="random", outlier=OutlierConfig(enabled=False))
    assert off.outlier_detection is None
    for cfg in (
        off,
        BalancerConfig(outlier=OutlierConfig(consecutive_5xx=2), health_check=HealthCheckConfig()),
    ):
        text = tomli_w.dumps({"balancer": plain(cfg)})
        assert BalancerConfig.from_dict(tomllib.loads(text)["balancer"]) == cfg
    for cfg, ejected in ((off, 0), (BalancerConfig(outlier=OutlierConfig(max_ejection_percent=50)), 1)):
        b = BalancerRT(cfg, 4, np.random.default_rng(0))
        for _ in range(10):
            b.started(0)
            b.ended(0, 1.0, True)
        assert b.ejected == ejected


def test_a_balancer_needs_a_replica() -> None:
    with pytest.raises(ValueError, match=r"replicas=0: must be >= 1"):
        BalancerRT(BalancerConfig(), 0, np.random.default_rng(0))
