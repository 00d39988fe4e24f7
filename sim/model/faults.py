"""Faults at run time: each scenario fault switched on at its start and off at its end (a cache flush,
instantaneous, only happens at its start)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import simpy

from sim.model.driver import call_later
from sim.model.links import LinkRT
from sim.model.service import ServiceRT
from sim.scenario.spec import (
    CacheFlush,
    CapacityDrop,
    ErrorBurst,
    LatencySpike,
    Outage,
    Partition,
    Scenario,
)

__all__ = ["schedule_faults"]


def schedule_faults(
    env: simpy.Environment,
    sc: Scenario,
    services: Mapping[str, ServiceRT | Sequence[ServiceRT]],
    links: dict[str, LinkRT],
) -> None:
    """Arm timers that apply each of ``sc.faults`` to its target service or link, then undo it.

    A target may name several services at once (a multi-tier service's replicas: ``services["db"]``
    lists them all, ``services["db#1"]`` one of them). A cache flush empties the cache of each
    targeted replica at its start and has nothing to undo.
    """
    for f in sc.faults:
        found = services.get(f.target)
        svcs: Sequence[ServiceRT] = [found] if isinstance(found, ServiceRT) else found or ()
        link = links.get(f.target)

        def on(_ev: object, f: Any = f, svcs: Sequence[ServiceRT] = svcs, link: Any = link) -> None:
            _apply_all(f, svcs, link, +1)

        def off(_ev: object, f: Any = f, svcs: Sequence[ServiceRT] = svcs, link: Any = link) -> None:
            _apply_all(f, svcs, link, -1)

        call_later(env, f.start, on)
        if not isinstance(f, CacheFlush):
            call_later(env, f.end, off)


def _apply_all(f: Any, svcs: Sequence[ServiceRT], link: LinkRT | None, sign: int) -> None:
    if not svcs:
        _apply(f, None, link, sign)
    for svc in svcs:
        _apply(f, svc, link, sign)
        link = None  # a link is changed once


def _apply(f: Any, svc: ServiceRT | None, link: LinkRT | None, sign: int) -> None:
    if isinstance(f, Outage) and svc is not None:
        svc.outages += sign
    elif isinstance(f, CapacityDrop) and svc is not None:
        if sign > 0:
            svc.drops.append(f.workers)
        else:
            svc.drops.remove(f.workers)
        svc.set_capacity()
    elif isinstance(f, LatencySpike):
        if svc is not None:
            svc.factor = svc.factor * f.factor if sign > 0 else svc.factor / f.factor
            add_latency = getattr(svc, "add_latency", None)  # a multi-tier replica adds ``add`` too
            if f.add and add_latency is not None:
                add_latency(sign * f.add)
        if link is not None:
            link.extra = max(0.0, link.extra + sign * f.add)
    elif isinstance(f, ErrorBurst) and svc is not None:
        if sign > 0:
            svc.bursts.append(f.error)
        else:
            svc.bursts.remove(f.error)
    elif isinstance(f, Partition) and link is not None:
        link.partitioned += sign
    elif isinstance(f, CacheFlush) and svc is not None and sign > 0:
        _flush(svc)


def _flush(rep: Any) -> None:
    """Empty the cache of ``rep``, a replica of a cache tier (``sim.graph.tier.ReplicaRT``)."""
    cache = rep.tier.caches[rep.index]
    if cache is not None:
        cache.flush()
