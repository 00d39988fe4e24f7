"""Active health checks of a service's replicas, on a SimPy environment (see ``HealthCheckConfig``).

Each replica is probed at once, then ``interval`` seconds after each probe's answer or timeout
(Envoy's scheduling). ``probe(i)`` says whether replica ``i`` answers the probe well, judged when
the probe is sent; ``latency(i)`` (optional, default 0) is how long the answer takes, and an answer
slower than ``timeout`` is a failure reported at the timeout. Replicas start healthy. The balancer
hears of every passed probe on a healthy replica (``set_healthy(i, True, now)``, which may return
an outlier-ejected replica) and of every change to unhealthy (``set_healthy(i, False, now)``).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.model.balancers import BalancerRT
from sim.model.driver import call_later
from sim.scenario.balancing import HealthCheckConfig

__all__ = ["HealthChecker"]


class HealthChecker:
    """Probes every replica of ``balancer`` and reports the results to it.

    Counters: ``probes`` and ``failed`` (all replicas), ``marked_unhealthy`` and
    ``marked_healthy`` (state changes).
    """

    __slots__ = (
        "_cfg",
        "_env",
        "_latency",
        "_probe",
        "active",
        "balancer",
        "failed",
        "failures_in_row",
        "healthy",
        "marked_healthy",
        "marked_unhealthy",
        "passes_in_row",
        "probes",
    )

    def __init__(
        self,
        env: simpy.Environment,
        cfg: HealthCheckConfig,
        balancer: BalancerRT,
        probe: Callable[[int], bool],
        *,
        latency: Callable[[int], float] | None = None,
    ) -> None:
        self._env = env
        self._cfg = cfg
        self._probe = probe
        self._latency = latency
        self.balancer = balancer
        n = balancer.replicas
        self.healthy = [True] * n
        self.failures_in_row = [0] * n
        self.passes_in_row = [0] * n
        self.probes = 0
        self.failed = 0
        self.marked_unhealthy = 0
        self.marked_healthy = 0
        self.active = True
        for i in range(n):
            self._send(i)

    def stop(self) -> None:
        """Send no more probes (answers in flight are still counted)."""
        self.active = False

    def _send(self, i: int) -> None:
        if not self.active:
            return
        self.probes += 1
        ok = bool(self._probe(i))
        delay = float(self._latency(i)) if self._latency is not None else 0.0
        if delay > self._cfg.timeout:
            ok, delay = False, self._cfg.timeout
        if delay <= 0.0:
            self._answer(i, ok)
        else:
            call_later(self._env, delay, lambda _ev: self._answer(i, ok))

    def _answer(self, i: int, ok: bool) -> None:
        cfg, now = self._cfg, self._env.now
        if ok:
            self.failures_in_row[i] = 0
            self.passes_in_row[i] += 1
            if not self.healthy[i] and self.passes_in_row[i] >= cfg.healthy_threshold:
                self.healthy[i] = True
                self.marked_healthy += 1
            if self.healthy[i]:
                self.balancer.set_healthy(i, True, now)
        else:
            self.failed += 1
            self.passes_in_row[i] = 0
            self.failures_in_row[i] += 1
            if self.healthy[i] and self.failures_in_row[i] >= cfg.unhealthy_threshold:
                self.healthy[i] = False
                self.marked_unhealthy += 1
                self.balancer.set_healthy(i, False, now)
        call_later(self._env, cfg.interval, lambda _ev: self._send(i))
