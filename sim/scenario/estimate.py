"""Before a run: an estimate of its requests, events, memory and wall time, and the limits it must keep.

The figures are rough lower bounds (each request counted with a single attempt,
no queue growth), good to an order of magnitude: enough to refuse a run that
would take hours or exhaust memory before it starts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sim.scenario.spec import ClientGroup, Scenario
from sim.scenario.workloads import Burst, ClosedLoop, Fixed, Poisson, Ramp, Schedule, Workload

__all__ = ["Estimate", "available_memory", "estimate", "limit_problems"]

EVENTS_PER_SECOND = 50_000.0  # simulated events per wall second of the full model (demo runs: 40k to 50k)
MAX_EVENTS = 10**9
WARN_SECONDS = 60.0
INSTANCE_BYTES = 1024  # one client instance: pipeline, jitter stream, counters
BREAKER_BYTES = 2560  # its circuit breaker (window, listeners)
BUDGET_BYTES = 1024  # its retry budget
BIN_BYTES = 400  # one time bin of one entity (client group, service, breaker)


@dataclass(frozen=True, slots=True)
class Estimate:
    """Rough size of one run: ``requests``, simulated ``events``, ``memory_bytes``, ``wall_seconds``."""

    requests: float
    events: float
    instances: int
    memory_bytes: float
    wall_seconds: float

    def describe(self) -> str:
        return (
            f"~{_num(self.requests)} requests, ~{_num(self.events)} events, "
            f"{_num(self.instances)} instances using ~{_bytes(self.memory_bytes)}, "
            f"~{_duration(self.wall_seconds)} at {_num(EVENTS_PER_SECOND)} events/s"
        )


def estimate(sc: Scenario) -> Estimate:
    """The estimate for ``sc`` (no simulation is run)."""
    requests = events = 0.0
    instances = 0
    memory = 0.0
    for g in sc.clients.values():
        n = _requests(sc, g)
        requests += n
        events += n * _events_per_request(sc, g)
        instances += g.instances
        per = INSTANCE_BYTES + (BREAKER_BYTES if g.breaker is not None else 0)
        memory += g.instances * (per + (BUDGET_BYTES if g.budget is not None else 0))
    bins = sc.duration / sc.bin_width
    entities = 2 * len(sc.clients) + len(sc.services)
    events += bins + sc.duration / sc.scrape_interval + 2 * len(sc.faults)
    memory += bins * entities * BIN_BYTES
    return Estimate(requests, events, instances, memory, events / EVENTS_PER_SECOND)


def limit_problems(est: Estimate, memory_available: float | None) -> tuple[list[str], list[str]]:
    """(refusals, warnings) for a run of this size: refused above ``MAX_EVENTS`` events or the available
    memory, warned about above ``WARN_SECONDS`` of wall time."""
    refuse: list[str] = []
    warn: list[str] = []
    if est.events > MAX_EVENTS:
        refuse.append(f"~{_num(est.events)} events exceed the limit of {_num(MAX_EVENTS)}")
    if memory_available is not None and est.memory_bytes > memory_available:
        refuse.append(
            f"~{_bytes(est.memory_bytes)} for {_num(est.instances)} instances exceeds the "
            f"{_bytes(memory_available)} of memory available"
        )
    if not refuse and est.wall_seconds > WARN_SECONDS:
        warn.append(f"this run may take ~{_duration(est.wall_seconds)}")
    return refuse, warn


def available_memory() -> float | None:
    """Bytes of memory available to a new run (Linux ``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


# -- requests and events -----------------------------------------------------------------
def _open_loop(wl: Workload, duration: float) -> float:
    if isinstance(wl, Poisson):
        return wl.rate * duration
    if isinstance(wl, Burst):
        return wl.rate * duration + wl.count
    if isinstance(wl, Ramp):
        end = min(duration, wl.start + wl.length)
        ramp = max(0.0, end - wl.start)
        at_end = wl.rate_at(end) if ramp > 0 else wl.from_rate
        return (
            wl.from_rate * min(duration, wl.start)
            + (wl.from_rate + at_end) / 2 * ramp
            + wl.to_rate * max(0.0, duration - wl.start - wl.length)
        )
    if isinstance(wl, Schedule):
        total = 0.0
        for k, (t, rate) in enumerate(wl.steps):
            t_next = wl.steps[k + 1][0] if k + 1 < len(wl.steps) else math.inf
            total += rate * max(0.0, min(duration, t_next) - t)
        return total
    return 0.0


def _request_seconds(sc: Scenario, g: ClientGroup) -> float:
    """A lower bound of one request's duration: service time plus the link's two crossings."""
    svc = sc.services.get(g.target)
    t = 0.0 if svc is None else svc.service_time.expected()
    if g.link is not None and g.link in sc.links:
        t += 2 * sc.links[g.link].latency.expected()
    return t


def _requests(sc: Scenario, g: ClientGroup) -> float:
    wl = g.workload
    if isinstance(wl, (ClosedLoop, Fixed)):
        users = g.instances * (wl.concurrency if isinstance(wl, ClosedLoop) else 1)
        cycle = wl.think.expected() + _request_seconds(sc, g)
        n = users * sc.duration / cycle if cycle > 0 else math.inf
        svc = sc.services.get(g.target)
        if svc is not None and svc.workers > 0 and svc.service_time.expected() > 0:
            n = min(n, svc.workers * sc.duration / svc.service_time.expected())
        if isinstance(wl, Fixed):
            n = min(n, float(g.instances * wl.requests))
        return n
    return _open_loop(wl, sc.duration)


def _events_per_request(sc: Scenario, g: ClientGroup) -> float:
    """Events of a request with one attempt: its start, the service's answer, the link's two crossings."""
    n = 2.0
    if g.link is not None and g.link in sc.links and sc.links[g.link].latency.expected() > 0:
        n += 2.0
    if g.operation == "cas":
        n *= 2
    return n


# -- formatting -------------------------------------------------------------------------------
def _num(x: float) -> str:
    if x == math.inf:
        return "unbounded"
    if x < 10_000:
        return f"{x:,.0f}"
    return f"{x:.1e}"


def _bytes(x: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if x < 1024:
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TB"


def _duration(s: float) -> str:
    if s == math.inf:
        return "forever"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"
