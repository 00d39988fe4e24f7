"""One chapter-5 run, measured: recovery, per-layer time-in-layer p99 by period, defences, speed.

The multi-tier model is stepped second by second. Each second the user group's offered requests
(by arrival) are counted; at each period boundary the tiers' time-in-tier histograms are copied, so
a period's p99 covers the own times (queueing + service, downstream excluded) that ended within it.
Once the faults are over, recovery is checked on the seconds whose requests have all finished (a
request lives at most its client's timeout); the run stops at the first recovered window, which
gives the same recovery time as running to the horizon (every earlier window was already complete
and failed), and saves the simulation of a healthy tail.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from sim.experiments.chapter5_tables import recovery_time
from sim.observe.histogram import LogHistogram
from sim.scenario.spec import LatencySpike, Scenario
from sim.scenario.workloads import Schedule

__all__ = ["FLOOD_GROUP", "LAYER_TIERS", "USER_GROUP", "group_ips", "lifetime", "measure", "periods", "stall"]

STALL_TARGET = "db_primary"
FLOOD_GROUP = "flood"
USER_GROUP = "web"
LAYER_TIERS: Mapping[str, tuple[str, ...]] = {
    "L4": ("l4",),
    "L7": ("l7",),
    "gateway": ("gateway",),
    "DB": ("db_primary", "db_replica"),
}


def stall(scenario: Scenario) -> LatencySpike:
    """The primary's write stall: the scenario's latency spike on ``db_primary``."""
    for f in scenario.faults:
        if isinstance(f, LatencySpike) and f.target == STALL_TARGET:
            return f
    raise ValueError(f"{scenario.name}: faults: must hold a latency_spike on {STALL_TARGET}")


def flood_schedule(scenario: Scenario) -> Schedule:
    """The flood group's workload (a schedule)."""
    w = scenario.clients[FLOOD_GROUP].workload
    if not isinstance(w, Schedule):
        raise ValueError(f"{scenario.name}: clients.{FLOOD_GROUP}.workload: must be a schedule")
    return w


def periods(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """``normal`` from the warm-up to the first fault (the flood's start or the stall's), ``fault`` from
    there to the end of the last fault; a scenario without faults has only ``normal``, to its end."""
    starts: list[float] = []
    ends: list[float] = []
    if any(isinstance(f, LatencySpike) and f.target == STALL_TARGET for f in scenario.faults):
        s = stall(scenario)
        starts.append(s.start)
        ends.append(s.end)
    if FLOOD_GROUP in scenario.clients:
        steps = flood_schedule(scenario).steps
        on = [t for t, r in steps if r > 0 and t < scenario.duration]
        if on:
            starts.append(on[0])
            off = [t for t, r in steps if r == 0 and t > on[0]]
            ends.append(min(off[0] if off else scenario.duration, scenario.duration))
    if not starts:
        return {"normal": (scenario.warmup, scenario.duration)}
    first, last = min(starts), max(ends)
    return {"normal": (scenario.warmup, first), "fault": (first, last)}


def group_ips(scenario: Scenario, group: str) -> range:
    """The client IPs of ``group``: the groups' IPs are numbered one after the other, in file order."""
    base = 0
    for name, g in scenario.clients.items():
        if name == group:
            return range(base, base + g.ips)
        base += g.ips
    raise KeyError(group)


def lifetime(scenario: Scenario, group: str = USER_GROUP) -> float | None:
    """The longest a request of ``group`` can live (its overall timeout, else attempts x attempt
    timeout plus the longest backoffs); None when unbounded."""
    r = scenario.clients[group].retry
    if r.timeout is not None:
        return r.timeout
    if r.attempt_timeout is None:
        return None
    cap = getattr(r.backoff, "cap", None)
    waits = 0.0 if r.max_attempts == 1 else (math.inf if cap is None else cap * (r.max_attempts - 1))
    return r.attempt_timeout * r.max_attempts + waits


def _diff(after: Mapping[int, int], before: Mapping[int, int]) -> LogHistogram:
    h = LogHistogram()
    for b, k in after.items():
        d = k - before.get(b, 0)
        if d:
            h.counts[b] = d
            h.n += d
    h.lo, h.hi = 0.0, math.inf
    return h


def measure(scenario: Scenario, seed: int, *, early_stop: bool = True) -> dict[str, Any]:
    """One run of a chapter-5 scenario (a top-level function, so a process pool can run it)."""
    from sim.engine import run_labels
    from sim.graph.engine import build
    from sim.stepper import advance

    model = build(scenario, seed, run_labels(scenario, seed))
    env, grp = model.env, model.groups[USER_GROUP]
    spans = periods(scenario)
    marks = sorted({t for span in spans.values() for t in span})
    snaps: dict[float, dict[str, dict[int, int]]] = {}
    faulted = "fault" in spans
    stall_end = stall(scenario).end if faulted else math.inf
    settle = lifetime(scenario) if early_stop and faulted else None
    fault_end = max(b for _, b in spans.values())
    model.rec.start()
    offered_at = [0]  # the group's cumulative offered requests at each whole second
    events, t0, now, recovery = 0, time.perf_counter(), 0.0, None
    while now < scenario.duration:
        nxt = min([math.floor(now) + 1.0, scenario.duration, *(m for m in marks if m > now)])
        events += advance(env, nxt).events
        now = nxt
        if now in marks:
            snaps[now] = {name: dict(t.in_tier.counts) for name, t in model.tiers.items()}
        if now == math.floor(now):
            offered_at.append(grp.offered)
            if settle is not None and now >= fault_end:
                done = math.floor(now - settle) - 1  # seconds [0, done) have all finished
                recovery = _recovery(offered_at, grp.clean_good_s, done, stall_end)
                if recovery is not None:
                    break
    wall = time.perf_counter() - t0
    if recovery is None and faulted:
        recovery = _recovery(offered_at, grp.clean_good_s, len(offered_at) - 1, stall_end)
    row: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": seed,
        "recovery_s": recovery,
        "cap_s": scenario.duration - stall_end if faulted else math.nan,
    }
    for p, (a, b) in spans.items():
        for layer, tiers in LAYER_TIERS.items():
            parts = [_diff(snaps.get(b, {}).get(t, {}), snaps.get(a, {}).get(t, {})) for t in tiers]
            h = LogHistogram.merged(parts)
            row[f"{p}_{layer}_p99_ms"] = h.quantile(0.99) * 1000.0 if h.n else math.nan
    row.update(_defences(scenario, model))
    row.update({"sim_s": now, "wall_s": wall, "events": events})
    return row


def _recovery(offered_at: list[int], good: list[int], done: int, stall_end: float) -> float | None:
    done = min(done, len(offered_at) - 1, len(good))
    offered = [offered_at[k + 1] - offered_at[k] for k in range(max(done, 0))]
    return recovery_time(offered, good[: len(offered)], step=1.0, stall_end=stall_end)


def _defences(scenario: Scenario, model: Any) -> dict[str, Any]:
    """What the defences did: flood IPs and other IPs flagged, first flag, the timeout cut's time."""
    flood_ips = set(group_ips(scenario, FLOOD_GROUP)) if FLOOD_GROUP in scenario.clients else set()
    flagged: dict[int, float] = {}
    cut_at = None
    for tier in model.tiers.values():
        flood = getattr(tier, "flood", None)
        if flood is not None:
            flagged.update(flood.flagged_at)
        for w in getattr(tier, "watch", {}).values():
            if w.cut_at is not None:
                cut_at = w.cut_at if cut_at is None else min(cut_at, w.cut_at)
    return {
        "flood_ips_flagged": sum(1 for ip in flagged if ip in flood_ips),
        "other_ips_flagged": sum(1 for ip in flagged if ip not in flood_ips),
        "first_flagged_s": min(flagged.values()) if flagged else None,
        "timeout_cut_s": cut_at,
    }
