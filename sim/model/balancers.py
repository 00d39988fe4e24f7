"""A caller's load balancer over a service's replicas (see ``sim/scenario/balancing.py``).

``BalancerRT`` is pure state: it is told the time and what happened, and answers with a replica
index. The caller reports each attempt it sends (``started``) and its end (``ended``, which feeds
outlier detection); active health checks (``sim/model/health.py``) report through
``set_healthy``. Every random draw comes from the generator passed in.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sim.model.outliers import OutlierDetector
from sim.scenario.balancing import BalancerConfig

__all__ = ["NO_REPLICA", "BalancerRT"]

NO_REPLICA: Final = -1  # what ``pick`` answers when no replica is available and panic mode is off

_BATCH: Final = 256  # uniforms drawn from the generator at a time


class BalancerRT:
    """Picks a replica for each attempt; skips ejected and unhealthy replicas unless in panic.

    Counters for results: ``picks`` and ``outstanding`` per replica, ``panic_picks`` (picks made
    in panic mode), ``no_replica`` (picks that found none), ``ejected`` / ``ejections`` /
    ``ejections_overflow`` (outlier detection), ``unhealthy`` (replicas failing health checks).
    """

    __slots__ = (
        "_buf",
        "_cursor",
        "_dirty",
        "_k",
        "_ok",
        "_panic_percent",
        "_policy",
        "_rng",
        "_seen",
        "candidates",
        "healthy",
        "in_panic",
        "no_replica",
        "outliers",
        "outstanding",
        "panic_picks",
        "picks",
        "replicas",
        "uneject_on_health_check",
    )

    def __init__(
        self, cfg: BalancerConfig, replicas: int, rng: np.random.Generator, *, start: float = 0.0
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas={replicas!r}: must be >= 1")
        self.replicas = replicas
        self._policy = cfg.policy
        self._panic_percent = cfg.panic_threshold
        self._rng = rng
        self._buf: list[float] = []
        self._k = 0
        self._cursor = 0  # round-robin position (also where least_outstanding starts its scan)
        od = cfg.outlier_detection
        self.outliers = OutlierDetector(od, replicas, rng, start=start) if od is not None else None
        self.uneject_on_health_check = od is not None and od.uneject_on_health_check
        self.outstanding = [0] * replicas  # attempts in flight from this balancer
        self.picks = [0] * replicas
        self.healthy = [True] * replicas  # as active health checks see it
        self.panic_picks = 0
        self.no_replica = 0
        self.candidates: list[int] = list(range(replicas))  # the replicas ``pick`` chooses among
        self._ok = [True] * replicas  # membership of ``candidates``
        self.in_panic = False
        self._seen = 0  # outlier version the candidates reflect
        self._dirty = False

    # -- counters ------------------------------------------------------------------------------
    @property
    def ejected(self) -> int:
        """Replicas ejected by outlier detection now."""
        return self.outliers.ejected_count if self.outliers is not None else 0

    @property
    def ejections(self) -> int:
        """Enforced outlier ejections so far."""
        return self.outliers.total_ejections if self.outliers is not None else 0

    @property
    def ejections_overflow(self) -> int:
        """Ejections refused because of ``max_ejection_percent``."""
        return self.outliers.overflow if self.outliers is not None else 0

    @property
    def unhealthy(self) -> int:
        """Replicas that active health checks mark unhealthy now."""
        return self.healthy.count(False)

    def available(self, i: int) -> bool:
        """True when replica ``i`` is neither ejected nor unhealthy."""
        od = self.outliers
        return self.healthy[i] and (od is None or not od.is_ejected(i))

    # -- the protocol --------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Bring time-driven state (outlier sweeps) up to ``now``; every method below does it too."""
        od = self.outliers
        if od is not None:
            if now >= od.next_sweep:
                od.advance(now)
            if od.version != self._seen:
                self._dirty = True
        if self._dirty:
            self._rebuild()

    def pick(self, now: float) -> int:
        """The replica for an attempt sent at ``now``, or ``NO_REPLICA``."""
        od = self.outliers  # ``advance``, inlined: this is the hot path
        if od is not None:
            if now >= od.next_sweep:
                od.advance(now)
            if od.version != self._seen:
                self._dirty = True
        if self._dirty:
            self._rebuild()
        cands = self.candidates
        m = len(cands)
        if m == 0:
            self.no_replica += 1
            return NO_REPLICA
        policy = self._policy
        if policy == "round_robin":
            ok = self._ok
            n = self.replicas
            i = self._cursor
            while not ok[i]:
                i = i + 1 if i + 1 < n else 0
            self._cursor = i + 1 if i + 1 < n else 0
        elif policy == "p2c":
            out = self.outstanding
            i = cands[int(self._uniform() * m)]
            j = cands[int(self._uniform() * m)]
            if out[j] < out[i]:
                i = j
        elif policy == "random":
            i = cands[int(self._uniform() * m)]
        else:  # least_outstanding
            i = self._least()
        self.picks[i] += 1
        if self.in_panic:
            self.panic_picks += 1
        return i

    def started(self, i: int) -> None:
        """An attempt went to replica ``i``."""
        self.outstanding[i] += 1

    def ended(self, i: int, now: float, status_5xx: bool) -> None:
        """The attempt at replica ``i`` ended at ``now`` (answered, or its caller stopped waiting).

        ``status_5xx``: a 5xx answer or a local-origin failure (timeout, reset, refused
        connection), as Envoy's outlier detection counts them by default.
        """
        self.outstanding[i] -= 1
        od = self.outliers
        if od is not None:
            od.record(i, now, status_5xx)
            if od.version != self._seen:
                self._dirty = True

    def set_healthy(self, i: int, healthy: bool, now: float) -> None:
        """Active health checks: replica ``i`` became unhealthy, or passed a check while healthy.

        A passed check returns an outlier-ejected replica at once when the outlier config's
        ``uneject_on_health_check`` is on (Envoy's default).
        """
        od = self.outliers
        if od is not None and now >= od.next_sweep:
            od.advance(now)
        if self.healthy[i] != healthy:
            self.healthy[i] = healthy
            self._dirty = True
        if healthy and od is not None and self.uneject_on_health_check:
            od.uneject(i, now)
        self.advance(now)

    # -- internals -----------------------------------------------------------------------------
    def _rebuild(self) -> None:
        n = self.replicas
        up = [i for i in range(n) if self.available(i)]
        self.in_panic = 100.0 * len(up) < self._panic_percent * n
        self.candidates = list(range(n)) if self.in_panic else up
        ok = [False] * n
        for i in self.candidates:
            ok[i] = True
        self._ok = ok
        self._seen = self.outliers.version if self.outliers is not None else 0
        self._dirty = False

    def _least(self) -> int:
        """The candidate with the fewest outstanding attempts, scanning from the cursor."""
        out, ok, n = self.outstanding, self._ok, self.replicas
        start = self._cursor
        best, best_load = -1, 0
        for k in range(n):
            i = start + k
            if i >= n:
                i -= n
            if ok[i] and (best < 0 or out[i] < best_load):
                best, best_load = i, out[i]
                if best_load == 0:
                    break
        self._cursor = best + 1 if best + 1 < n else 0
        return best

    def _uniform(self) -> float:
        k = self._k
        if k >= len(self._buf):
            self._buf = self._rng.random(_BATCH).tolist()
            k = 0
        self._k = k + 1
        return self._buf[k]
