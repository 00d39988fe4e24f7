"""Admission at a service replica (its gate) and the per-IP flood detector: the configs.

A gate has optional parts, checked in this order when a request arrives:

* ``connections``: the L4 connection table. Each client IP keeps idle
  connections alive for reuse; a request without an idle connection opens
  one, half-open for ``handshake_time`` (counted in the SYN backlog). At most
  ``limit`` connections (open + half-open) and ``syn_backlog`` half-open ones;
  beyond either the connection is refused. An idle connection closes after
  ``idle_timeout`` seconds. A flood IP's connection (one per request, never
  reused) stays idle until then, or closes at once with ``unreused = "close"``.
* ``rate_limit``: a token bucket per client IP (``resilience.admission.KeyedRateLimiter``).
* ``bulkhead``: at most ``max_concurrent`` requests inside (``resilience.admission.Bulkhead``);
  the service's own queue is the waiting room, so ``max_waiting`` must be 0.
* ``adaptive``: an adaptive concurrency limit, AIMD or gradient
  (``resilience.admission.ConcurrencyLimiter``).

``FloodConfig`` is the detector of a tier (it sees every replica's new connections):
an IP that opens more than ``threshold`` new connections within ``window`` seconds is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from resilience._config import Config, ConfigError, non_negative, positive, rule
from resilience.admission import AIMDConfig, BulkheadConfig, GradientConfig, KeyedRateLimiterConfig

__all__ = ["ConnectionsConfig", "FloodConfig", "GateConfig"]

UNREUSED = ("idle", "close")


@dataclass(frozen=True, slots=True)
class ConnectionsConfig(Config):
    """A replica's connection table: ``limit`` open + half-open, ``syn_backlog`` half-open at most.

    ``unreused``: what becomes of a connection its client will not reuse (a
    flood IP's) once its request is done: ``"idle"`` (left open until the idle
    timeout closes it) or ``"close"`` (closed at once; it counts no more).
    """

    limit: int = field(default=20_000, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    syn_backlog: int = field(default=1_024, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    handshake_time: float = field(default=0.001, metadata=rule(non_negative, "must be >= 0 and finite"))
    idle_timeout: float = field(default=60.0, metadata=rule(positive, "must be > 0 and finite"))
    unreused: str = field(default="idle", metadata=rule(lambda v: v in UNREUSED, "must be idle or close"))

    def _cross_checks(self) -> None:
        if self.syn_backlog > self.limit:
            raise self._error("syn_backlog", f"must be <= limit ({self.limit})")


@dataclass(frozen=True, slots=True)
class GateConfig(Config):
    """Admission at each replica of a service; every part is optional (None: no such check)."""

    connections: ConnectionsConfig | None = None
    rate_limit: KeyedRateLimiterConfig | None = None
    bulkhead: BulkheadConfig | None = None
    adaptive: AIMDConfig | GradientConfig | None = None

    def _cross_checks(self) -> None:
        bh = self.bulkhead
        if bh is not None and bh.max_waiting != 0:
            raise ConfigError(
                "GateConfig",
                "bulkhead.max_waiting",
                bh.max_waiting,
                "must be 0 (the service's queue is the waiting room)",
            )
        adaptive: object = self.adaptive
        if isinstance(adaptive, Mapping):  # plain data, e.g. from a scenario file: pick by `type`
            object.__setattr__(self, "adaptive", _adaptive(adaptive))
        elif adaptive is not None and not isinstance(adaptive, (AIMDConfig, GradientConfig)):
            raise self._error("adaptive", "must be an AIMDConfig or a GradientConfig (type aimd or gradient)")

    @property
    def active(self) -> bool:
        """True when any part is on."""
        return any(p is not None for p in (self.connections, self.rate_limit, self.bulkhead, self.adaptive))


_ADAPTIVE: dict[object, type[AIMDConfig] | type[GradientConfig]] = {
    "aimd": AIMDConfig,
    "gradient": GradientConfig,
}


def _adaptive(data: Mapping[str, Any]) -> AIMDConfig | GradientConfig:
    """An adaptive limit's config from plain data; errors name ``adaptive.<field>``."""
    tag = data.get("type")
    cls = _ADAPTIVE.get(tag)
    if cls is None:
        raise ConfigError("GateConfig", "adaptive.type", tag, "must be one of aimd, gradient")
    try:
        return cls.from_dict(data)
    except ConfigError as e:
        raise ConfigError("GateConfig", f"adaptive.{e.field}", e.value, e.rule) from None


@dataclass(frozen=True, slots=True)
class FloodConfig(Config):
    """Flag an IP whose new connections within the last ``window`` seconds exceed ``threshold``.

    ``max_ips`` bounds the IPs tracked at once; memory is at most
    ``max_ips * (threshold + 1)`` timestamps, and only IPs active within the
    window are held.
    """

    threshold: int = field(default=500, metadata=rule(lambda v: 1 <= v <= 1_000_000, "must be in 1..1000000"))
    window: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    max_ips: int = field(
        default=100_000, metadata=rule(lambda v: 1 <= v <= 10_000_000, "must be in 1..10000000")
    )
