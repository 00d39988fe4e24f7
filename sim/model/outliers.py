"""Envoy's consecutive-5xx outlier detection for one balancer's replicas.

The rules follow Envoy's ``outlier_detection_impl.cc`` (v1.31 and later):

* Each answer is recorded: a failure (a 5xx, or a local-origin failure such as a timeout or a
  refused connection, which Envoy's default mode counts alike) adds one to the replica's count of
  consecutive failures, a success resets it. When the count reaches ``consecutive_5xx`` the
  replica is ejected at once (inline, not at a sweep) and the count restarts from zero.
* An ejection is refused (counted in ``overflow``) when it would take the ejected share above
  ``max_ejection_percent``, i.e. unless ``100 * (ejected + 1) / replicas <= max_ejection_percent``;
  with ``always_eject_one_host`` it is allowed anyway while no replica is ejected.
* An ejection raises the replica's multiplier by one (while ``multiplier * base`` is below
  ``cap + base``) and lasts ``min(base * multiplier, cap)`` plus a uniform jitter.
* Every ``interval`` seconds (from ``start``) a sweep returns the replicas whose ejection has
  lasted that long, and lowers by one the multiplier of every replica in service that was
  returned at least ``interval`` ago. Returning a replica clears its count.

Sweeps are lazy: nothing is scheduled; every call that carries the time first runs the sweeps
due up to it, each at its own instant, so the state equals a timer-driven one at every call.
Call ``advance(now)`` before reading the state at a time with no other call.
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario.balancing import OutlierConfig

__all__ = ["OutlierDetector"]


class OutlierDetector:
    """Consecutive-5xx ejection state of ``replicas`` replicas; jitter drawn from ``rng``."""

    __slots__ = (
        "_base",
        "_cap",
        "_interval",
        "_jitter",
        "_max_percent",
        "_one_host",
        "_rng",
        "_start",
        "_sweeps",
        "_threshold",
        "consecutive",
        "ejected_at",
        "ejected_count",
        "ejected_for",
        "ejections",
        "multiplier",
        "next_sweep",
        "overflow",
        "replicas",
        "returned_at",
        "version",
    )

    def __init__(
        self, cfg: OutlierConfig, replicas: int, rng: np.random.Generator, *, start: float = 0.0
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas={replicas!r}: must be >= 1")
        self._threshold = cfg.consecutive_5xx
        self._interval = cfg.interval
        self._base = cfg.base_ejection_time
        self._cap = cfg.ejection_cap
        self._jitter = cfg.max_ejection_time_jitter
        self._max_percent = cfg.max_ejection_percent
        self._one_host = cfg.always_eject_one_host
        self._rng = rng
        self.replicas = replicas
        self.consecutive = [0] * replicas  # failures in a row per replica
        self.multiplier = [0] * replicas  # Envoy's ejection time backoff
        self.ejected_at = [math.nan] * replicas  # NaN: in service
        self.ejected_for = [0.0] * replicas  # length of the current ejection
        self.returned_at = [math.nan] * replicas  # last return to service (NaN: never ejected)
        self.ejections = [0] * replicas  # enforced ejections per replica
        self.ejected_count = 0  # replicas ejected now
        self.overflow = 0  # ejections refused by max_ejection_percent
        self._start = start
        self._sweeps = 1  # index of the next sweep
        self.next_sweep = start + self._interval  # time of the next sweep: start + index * interval
        self.version = 0  # bumped whenever a replica is ejected or returned

    # -- state ---------------------------------------------------------------------------------
    def is_ejected(self, i: int) -> bool:
        """True while replica ``i`` is ejected (as of the last call that carried the time)."""
        return not math.isnan(self.ejected_at[i])

    @property
    def total_ejections(self) -> int:
        """Enforced ejections so far, all replicas."""
        return sum(self.ejections)

    # -- events --------------------------------------------------------------------------------
    def record(self, i: int, now: float, failed: bool) -> None:
        """Replica ``i`` answered at ``now``: ``failed`` for a 5xx or a local-origin failure."""
        if now >= self.next_sweep:
            self.advance(now)
        if not failed:
            self.consecutive[i] = 0
            return
        if not math.isnan(self.ejected_at[i]):
            return  # an answer from a replica already out (sent before its ejection, or in panic)
        count = self.consecutive[i] + 1
        if count < self._threshold:
            self.consecutive[i] = count
            return
        self.consecutive[i] = 0
        self._eject(i, now)

    def uneject(self, i: int, now: float) -> None:
        """Return replica ``i`` at once (a passed active health check); no-op when in service."""
        if now >= self.next_sweep:
            self.advance(now)
        if not math.isnan(self.ejected_at[i]):
            self._return(i, now)

    def advance(self, now: float) -> None:
        """Run every sweep due at or before ``now``, in order, each at its own time."""
        start, interval = self._start, self._interval
        while self.next_sweep <= now:
            if self.ejected_count == 0 and not any(self.multiplier):
                # Nothing for a sweep to do until the next ejection: skip past ``now``.
                k = max(self._sweeps, math.floor((now - start) / interval))
                while start + k * interval <= now:
                    k += 1
                self._sweeps = k
                self.next_sweep = start + k * interval
                return
            self._sweep(self.next_sweep)
            self._sweeps += 1
            self.next_sweep = start + self._sweeps * interval

    # -- internals -----------------------------------------------------------------------------
    def _eject(self, i: int, now: float) -> None:
        allowed = 100.0 * (self.ejected_count + 1) <= self._max_percent * self.replicas
        if not allowed and not (self._one_host and self.ejected_count == 0):
            self.overflow += 1
            return
        if self.multiplier[i] * self._base < self._cap + self._base:
            self.multiplier[i] += 1
        jitter = float(self._rng.random()) * self._jitter if self._jitter > 0 else 0.0
        self.ejected_at[i] = now
        self.ejected_for[i] = min(self._base * self.multiplier[i], self._cap) + jitter
        self.ejections[i] += 1
        self.ejected_count += 1
        self.version += 1

    def _return(self, i: int, now: float) -> None:
        self.ejected_at[i] = math.nan
        self.returned_at[i] = now
        self.consecutive[i] = 0
        self.ejected_count -= 1
        self.version += 1

    def _sweep(self, t: float) -> None:
        for i in range(self.replicas):
            at = self.ejected_at[i]
            if not math.isnan(at) and t - at >= self.ejected_for[i]:
                self._return(i, t)
        for i in range(self.replicas):
            back = self.returned_at[i]
            in_service = math.isnan(self.ejected_at[i]) and not math.isnan(back)
            if in_service and t - back >= self._interval and self.multiplier[i] > 0:
                self.multiplier[i] -= 1
