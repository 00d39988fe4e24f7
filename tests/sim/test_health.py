"""Active health checks on a SimPy environment (``sim/model/health.py``)."""

from __future__ import annotations

import numpy as np
import simpy

from sim.model.balancers import BalancerRT
from sim.model.health import HealthChecker
from sim.scenario.balancing import BalancerConfig, HealthCheckConfig, OutlierConfig

HC = HealthCheckConfig(interval=5.0, timeout=1.0, unhealthy_threshold=3, healthy_threshold=2)


def setup(outlier: OutlierConfig | None = None, n: int = 4) -> tuple[simpy.Environment, BalancerRT]:
    env = simpy.Environment()
    cfg = BalancerConfig(policy="round_robin", outlier=outlier, health_check=HC)
    return env, BalancerRT(cfg, n, np.random.default_rng(0))


def healthy_at(env: simpy.Environment, b: BalancerRT, i: int, times: list[float]) -> list[bool]:
    out = []
    for t in times:
        env.run(until=t)
        out.append(b.healthy[i])
    return out


def test_unhealthy_after_exactly_the_threshold_of_failed_probes_and_back_after_passes() -> None:
    env, b = setup()
    down = (10.0, 30.0)  # replica 1 fails probes sent in [10, 30)
    hc = HealthChecker(env, HC, b, lambda i: not (i == 1 and down[0] <= env.now < down[1]))
    # Probes at 0, 5, 10, 15, 20, ...: failures at 10 and 15 (two) keep it in; the third, at 20,
    # takes it out. Passes at 30 (one) keep it out; the second, at 35, brings it back.
    env.run(until=19.99)
    assert hc.failures_in_row[1] == 2 and b.healthy[1]
    assert healthy_at(env, b, 1, [20.01, 34.99, 35.01]) == [False, False, True]
    assert hc.marked_unhealthy == 1 and hc.marked_healthy == 1
    assert all(b.healthy[i] for i in (0, 2, 3))


def test_the_balancer_skips_a_replica_while_health_checks_hold_it_unhealthy() -> None:
    env, b = setup()
    HealthChecker(env, HC, b, lambda i: i != 2)
    env.run(until=10.01)  # failures at 0, 5, 10
    assert not b.healthy[2]
    assert [b.pick(env.now) for _ in range(6)] == [0, 1, 3, 0, 1, 3]


def test_a_slow_probe_fails_at_the_timeout_and_the_next_waits_an_interval_after() -> None:
    sent: list[float] = []
    env, b = setup(n=1)

    def probe(i: int) -> bool:
        sent.append(env.now)
        return True

    hc = HealthChecker(env, HC, b, probe, latency=lambda i: 2.0 if env.now < 12 else 0.5)
    env.run(until=40.0)
    # Answers over 1 s time out: next probe 1 + 5 s later; then 0.5 s answers: 5.5 s apart.
    assert sent == [0.0, 6.0, 12.0, 17.5, 23.0, 28.5, 34.0, 39.5]
    assert hc.failed == 2 and b.healthy[0]  # two timeouts (0 and 6), below the threshold of 3


def test_probe_timeouts_count_as_failures() -> None:
    env, b = setup(n=2)
    hc = HealthChecker(env, HC, b, lambda i: True, latency=lambda i: 1.5 if i == 0 else 0.1)
    env.run(until=14.0)  # replica 0 times out at 1, 7, 13
    assert hc.failed == 3 and not b.healthy[0] and b.healthy[1]


def test_a_passed_check_returns_an_ejected_replica_at_once() -> None:
    od = OutlierConfig(max_ejection_percent=50.0, interval=10.0, base_ejection_time=30.0)
    env, b = setup(outlier=od)
    HealthChecker(env, HC, b, lambda i: True)
    env.run(until=1.0)
    for _ in range(5):
        b.started(0)
        b.ended(0, env.now, True)
    assert b.ejected == 1
    env.run(until=4.99)
    assert b.ejected == 1
    env.run(until=5.01)  # the next probe, at 5 s, passes
    assert b.ejected == 0 and 0 in {b.pick(env.now) for _ in range(4)}


def test_without_uneject_on_health_check_the_ejection_runs_its_course() -> None:
    od = OutlierConfig(
        max_ejection_percent=50.0, interval=10.0, base_ejection_time=30.0, uneject_on_health_check=False
    )
    env, b = setup(outlier=od)
    HealthChecker(env, HC, b, lambda i: True)
    env.run(until=1.0)
    for _ in range(5):
        b.started(0)
        b.ended(0, env.now, True)
    env.run(until=39.99)
    b.advance(env.now)
    assert b.ejected == 1
    env.run(until=40.0)  # the sweep at 40 s: 39 s out >= 30 s
    b.advance(env.now)
    assert b.ejected == 0


def test_stop_ends_the_probing() -> None:
    env, b = setup(n=2)
    hc = HealthChecker(env, HC, b, lambda i: True)
    env.run(until=12.0)
    assert hc.probes == 6  # 0, 5, 10 for each replica
    hc.stop()
    env.run(until=60.0)
    assert hc.probes == 6
