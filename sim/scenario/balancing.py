"""How callers spread attempts over a service's replicas: the balancer, outlier detection, health checks.

``BalancerConfig.policy`` picks a replica for each attempt:

* ``round_robin``: the next available replica in index order (Envoy's default policy).
* ``random``: uniform over the available replicas.
* ``least_outstanding``: the available replica with the fewest attempts in flight from this
  balancer (ties go round the replicas in turn).
* ``p2c``: power of two choices: two uniform draws, the one with fewer attempts in flight
  (Envoy's ``LEAST_REQUEST`` with ``choice_count = 2``).

A replica is *available* unless outlier detection ejected it or active health checks marked it
unhealthy. When fewer than ``panic_threshold`` percent of the replicas are available the balancer
is in *panic* and uses every replica (Envoy's healthy panic threshold, 50% by default); with
``panic_threshold = 0`` it never panics, and an attempt with no available replica finds none.

``OutlierConfig`` is Envoy's consecutive-5xx outlier detection with Envoy's defaults (on unless
``enabled = false``); see
``sim/model/outliers.py`` for the algorithm. ``HealthCheckConfig`` is an active health check
(``sim/model/health.py``); Envoy has no defaults for its four fields, the ones here are common
choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resilience._config import Config, non_negative, positive, rule

__all__ = ["POLICIES", "BalancerConfig", "HealthCheckConfig", "OutlierConfig"]

POLICIES = ("round_robin", "random", "least_outstanding", "p2c")

_ENVOY_MAX_EJECTION_TIME = 300.0


def _percent(v: float) -> bool:
    return 0.0 <= v <= 100.0


@dataclass(frozen=True, slots=True)
class OutlierConfig(Config):
    """Eject a replica after ``consecutive_5xx`` failures in a row (Envoy's defaults throughout).

    Ejected for ``base_ejection_time`` x the replica's ejection multiplier (the number of times it
    was ejected in a row, less one for every ``interval`` it has stayed in service since), capped at
    ``max_ejection_time`` (None: the larger of 300 s and ``base_ejection_time``), plus a uniform
    jitter of up to ``max_ejection_time_jitter``; ejected replicas return to service at the sweeps
    held every ``interval`` seconds. At most ``max_ejection_percent`` of the replicas are ejected at
    once; with ``always_eject_one_host`` one replica may be ejected whatever that percentage
    (Envoy >= 1.31; with the default 10%, fewer than 10 replicas means no ejection at all without
    it). With ``uneject_on_health_check`` (Envoy's ``successful_active_health_check_uneject_host``)
    a passed active health check returns an ejected replica at once. ``enabled = false`` turns
    detection off (``BalancerConfig(outlier=None)`` means the same).
    """

    consecutive_5xx: int = field(
        default=5, metadata=rule(lambda v: 1 <= v <= 1_000_000, "must be in 1..1000000")
    )
    interval: float = field(default=10.0, metadata=rule(positive, "must be > 0 and finite"))
    base_ejection_time: float = field(default=30.0, metadata=rule(positive, "must be > 0 and finite"))
    max_ejection_percent: float = field(default=10.0, metadata=rule(_percent, "must be in [0, 100]"))
    max_ejection_time: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    max_ejection_time_jitter: float = field(
        default=0.0, metadata=rule(non_negative, "must be >= 0 and finite")
    )
    always_eject_one_host: bool = False
    uneject_on_health_check: bool = True
    enabled: bool = True

    def _cross_checks(self) -> None:
        if self.max_ejection_time is not None and self.max_ejection_time < self.base_ejection_time:
            raise self._error(
                "max_ejection_time", f"must be >= base_ejection_time ({self.base_ejection_time})"
            )

    @property
    def ejection_cap(self) -> float:
        """The longest ejection (jitter excluded): ``max_ejection_time`` or Envoy's default."""
        if self.max_ejection_time is not None:
            return self.max_ejection_time
        return max(_ENVOY_MAX_EJECTION_TIME, self.base_ejection_time)


@dataclass(frozen=True, slots=True)
class HealthCheckConfig(Config):
    """Probe every replica: ``interval`` seconds after the previous probe's answer (or timeout).

    A probe unanswered within ``timeout`` fails. A healthy replica becomes unhealthy after
    ``unhealthy_threshold`` failed probes in a row, an unhealthy one healthy again after
    ``healthy_threshold`` passed probes in a row.
    """

    interval: float = field(default=5.0, metadata=rule(positive, "must be > 0 and finite"))
    timeout: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    unhealthy_threshold: int = field(default=3, metadata=rule(lambda v: 1 <= v <= 1000, "must be in 1..1000"))
    healthy_threshold: int = field(default=2, metadata=rule(lambda v: 1 <= v <= 1000, "must be in 1..1000"))


@dataclass(frozen=True, slots=True)
class BalancerConfig(Config):
    """How callers pick a replica: ``policy``, outlier ejection, active health checks, panic mode."""

    policy: str = field(
        default="round_robin",
        metadata=rule(lambda v: v in POLICIES, "must be one of " + ", ".join(POLICIES)),
    )
    outlier: OutlierConfig | None = OutlierConfig()
    health_check: HealthCheckConfig | None = None
    panic_threshold: float = field(default=50.0, metadata=rule(_percent, "must be in [0, 100]"))

    def _cross_checks(self) -> None:
        if self.outlier is None:  # stored as a disabled config, so that it survives TOML (no null)
            object.__setattr__(self, "outlier", OutlierConfig(enabled=False))

    @property
    def outlier_detection(self) -> OutlierConfig | None:
        """The outlier config when detection is on, else None."""
        return self.outlier if self.outlier is not None and self.outlier.enabled else None
