"""Faults of a scenario (``[[faults]]``): what goes wrong on which service or link, from when, for how
long; and the checks that tie each fault to the scenario's parts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from resilience._config import Config, ConfigError, non_negative, positive, rule
from sim.scenario.errors import ErrorSpec

__all__ = [
    "CacheFlush",
    "CapacityDrop",
    "ErrorBurst",
    "Fault",
    "LatencySpike",
    "Outage",
    "Partition",
    "fault_problems",
]

_NAME_RULE = rule(lambda v: isinstance(v, str) and v != "", "must be a non-empty string")


class Fault(Config):
    """Something that goes wrong on ``target`` from ``start`` for ``duration`` seconds."""

    __slots__ = ()
    target_kind: ClassVar[str] = "service"
    target: str
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Outage(Fault):
    """The service refuses new connections (connection refused)."""

    kind = "outage"
    target: str = field(default="", metadata=_NAME_RULE)
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    duration: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))


@dataclass(frozen=True, slots=True)
class CapacityDrop(Fault):
    """Only ``workers`` workers remain (work in progress finishes)."""

    kind = "capacity_drop"
    target: str = field(default="", metadata=_NAME_RULE)
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    duration: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    workers: int = field(default=0, metadata=rule(lambda v: v >= 0, "must be >= 0"))


@dataclass(frozen=True, slots=True)
class LatencySpike(Fault):
    """Service: service times x ``factor``. Link: one-way latency + ``add`` seconds."""

    kind = "latency_spike"
    target_kind: ClassVar[str] = "service or link"
    target: str = field(default="", metadata=_NAME_RULE)
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    duration: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    factor: float = field(default=1.0, metadata=rule(lambda v: 0 < v < math.inf, "must be > 0 and finite"))
    add: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))


@dataclass(frozen=True, slots=True)
class ErrorBurst(Fault):
    """An extra error source on the service (checked before its own errors)."""

    kind = "error_burst"
    target: str = field(default="", metadata=_NAME_RULE)
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    duration: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    error: ErrorSpec = field(default_factory=lambda: ErrorSpec(probability=1.0, status=503))


@dataclass(frozen=True, slots=True)
class Partition(Fault):
    """Every message on the link is lost."""

    kind = "partition"
    target_kind: ClassVar[str] = "link"
    target: str = field(default="", metadata=_NAME_RULE)
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    duration: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))


@dataclass(frozen=True, slots=True)
class CacheFlush(Fault):
    """The cache of a cache tier (every replica's, or one replica's: ``name#i``) loses every entry at
    ``start``; each key misses until it is filled again. Instantaneous: ``duration`` is 0."""

    kind = "cache_flush"
    target_kind: ClassVar[str] = "service with a cache"
    target: str = field(default="", metadata=_NAME_RULE)
    start: float = field(default=0.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    duration: float = field(
        default=0.0, metadata=rule(lambda v: v == 0, "must be 0 (a flush is instantaneous)")
    )


def fault_problems(sc: Any) -> list[ConfigError]:
    """The rules each of ``sc.faults`` must keep with the rest of scenario ``sc``: its target names
    what its kind acts on, and it lies within the counted run."""
    out: list[ConfigError] = []

    def bad(path: str, value: object, text: str) -> None:
        out.append(ConfigError("Scenario", path, value, text))

    for i, f in enumerate(sc.faults):
        where = f"faults[{i}]"
        if not isinstance(f, Fault):
            bad(where, f, "must be a fault")
            continue
        svc = _service(sc, f.target)
        in_services, in_links = svc is not None, f.target in sc.links
        ok = {
            "service": in_services,
            "link": in_links,
            "service or link": in_services or in_links,
            "service with a cache": svc is not None and svc.cache is not None,
        }
        if not ok[f.target_kind]:
            bad(f"{where}.target", f.target, f"must name a {f.target_kind}")
        if f.start < sc.warmup:
            bad(f"{where}.start", f.start, f"must be >= warmup ({sc.warmup})")
        elif f.start >= sc.duration:
            bad(f"{where}.start", f.start, f"must be < the scenario's duration ({sc.duration})")
        elif f.end > sc.duration:
            bad(f"{where}.duration", f.duration, f"must end by the scenario's duration ({sc.duration})")
    return out


def _service(sc: Any, target: str) -> Any:
    """The service ``target`` names, itself or one replica of it as ``name#index``; else None."""
    if target in sc.services:
        return sc.services[target]
    name, sep, index = target.rpartition("#")
    svc = sc.services.get(name) if sep else None
    return svc if svc is not None and index.isdigit() and int(index) < svc.replicas else None
