"""Run results: the summary (the JSON of ``rwb run``), the time bins and the metric series."""

from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.observe.bins import bins_frame
from sim.observe.histogram import LogHistogram
from sim.observe.series import render_openmetrics

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type stubs

    from sim.model.client import GroupRT
    from sim.model.links import LinkRT
    from sim.model.service import ServiceRT
    from sim.observe.record import Recorder
    from sim.scenario.spec import Scenario
    from sim.stepper import Stepped

__all__ = ["RunResult", "recovery_seconds"]

WINDOW = 5
THRESHOLD = 0.95


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) else x


def recovery_seconds(
    offered: list[int], good: list[int], warmup: float, fault_start: float, fault_end: float, horizon: float
) -> float | None:
    """Seconds from ``fault_end`` to the first 5 s window (1 s grid, by arrival) whose every second
    has goodput/offered ≥ 95% of the pre-fault ratio (warm-up to first fault); None if never."""
    pre = range(math.ceil(warmup), math.floor(fault_start))
    off = sum(offered[s] for s in pre)
    if off == 0:
        return None
    target = THRESHOLD * sum(good[s] for s in pre) / off
    s = math.ceil(fault_end)
    while s + WINDOW <= horizon:
        if all(offered[u] > 0 and good[u] >= target * offered[u] for u in range(s, s + WINDOW)):
            return s - fault_end
        s += 1
    return None


def _latency(h: LogHistogram) -> dict[str, float | None]:
    q = h.quantiles((0.5, 0.9, 0.99, 0.999))
    return {
        "mean": _finite(h.mean),
        "p50": _finite(q[0]),
        "p90": _finite(q[1]),
        "p99": _finite(q[2]),
        "p999": _finite(q[3]),
    }


def _sum_dicts(ds: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in ds:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


class RunResult:
    """What one run produced: ``summary`` (dict), ``bins`` (DataFrame), ``series`` (OpenMetrics text)."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        end: float,
        groups: dict[str, GroupRT],
        services: dict[str, ServiceRT],
        links: dict[str, LinkRT],
        rec: Recorder,
        stepped: Stepped | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.sim_seconds = end
        self._bins = (rec.ends, rec.group_bins, rec.service_bins)
        self._samples = rec.samples
        self.offered_per_second = rec.offered_s
        self.goodput_per_second = rec.good_s
        self.events = 0 if stepped is None else stepped.events
        self.summary = self._summarise(groups, services, rec)
        wall = 0.0 if stepped is None else stepped.wall_seconds
        self.timing: dict[str, float | None] = {
            "wall_seconds": wall,
            "events_per_second": self.events / wall if wall > 0 else None,
        }
        """Wall-clock figures of this run: not part of ``summary`` (they differ between identical runs)."""

    # -- summary -----------------------------------------------------------------------
    def _group(self, g: GroupRT) -> dict[str, Any]:
        req = g.c_requests
        return {
            "requests": req,
            "attempts": g.c_attempts,
            "calls": {op.label: g.c_calls[op] for op in g.ops},
            "successes": g.c_successes,
            "failures": dict(sorted(g.c_failures.items())),
            "failure_evidence": {r: dict(sorted(e.items())) for r, e in sorted(g.c_evidence.items())},
            "degraded": dict(sorted(g.c_degraded.items())),
            "in_flight_at_end": g.c_in_flight,
            "goodput": g.c_good,
        }

    def _summarise(
        self, groups: dict[str, GroupRT], services: dict[str, ServiceRT], rec: Recorder
    ) -> dict[str, Any]:
        sc = self.scenario
        per = {name: self._group(g) for name, g in groups.items()}
        requests = sum(p["requests"] for p in per.values())
        attempts = sum(p["attempts"] for p in per.values())
        successes = sum(p["successes"] for p in per.values())
        good = sum(p["goodput"] for p in per.values())
        calls: dict[str, dict[str, int]] = {}
        for name, g in groups.items():
            edge = calls.setdefault(g.edge, {})
            for op, n in per[name]["calls"].items():
                edge[op] = edge.get(op, 0) + n
        hist = LogHistogram.merged(g.c_latency for g in groups.values())
        for name, g in groups.items():
            per[name]["latency_seconds"] = _latency(g.c_latency)
            per[name]["success_ratio"] = _ratio(g.c_successes, g.c_requests)
            per[name]["goodput_ratio"] = _ratio(g.c_good, g.c_requests)
            per[name]["amplification"] = _ratio(g.c_attempts, g.c_requests)
        breakers = {}
        for name, tr in rec.breakers.items():
            breakers[groups[name].edge] = {
                "opened": tr.opened,
                "open_seconds": tr.open_seconds / tr.n,
                "peak_open_fraction": tr.peak,
            }
        recovery = None
        if sc.faults:
            recovery = recovery_seconds(
                rec.offered_s,
                rec.good_s,
                sc.warmup,
                min(f.start for f in sc.faults),
                max(f.end for f in sc.faults),
                self.sim_seconds - sc.slo_latency,
            )
        span = max(self.sim_seconds - sc.warmup, 1e-12)
        svc = {}
        for name, s in services.items():
            svc[name] = {
                "arrivals": s.c_arrivals,
                "served": s.c_served,
                "queue_full": s.c_queue_full,
                "refused": s.c_refused,
                "fast_errors": s.c_fast_errors,
                "cancelled": s.c_cancelled,
                "in_flight_at_end": s.in_flight(since=s.warmup),
                "waited": s.c_waited,
                "utilisation": _finite(s.c_area_busy / (s.workers * span)) if s.workers < math.inf else None,
                "mean_in_system": (s.c_area_busy + s.c_area_queue) / span,
                "mean_in_queue": s.c_area_queue / span,
                "mean_sojourn_seconds": _ratio(s.c_sojourn, s.c_served),
                "mean_wait_seconds": _ratio(s.c_wait, s.c_served),
            }
        return {
            "scenario": sc.name,
            "seed": self.seed,
            "sim_seconds": self.sim_seconds,
            "events": self.events,
            "requests": requests,
            "attempts": attempts,
            "calls": calls,
            "successes": successes,
            "failures": _sum_dicts([p["failures"] for p in per.values()]),
            "failure_evidence": {
                r: _sum_dicts([p["failure_evidence"].get(r, {}) for p in per.values()])
                for r in _sum_dicts([p["failures"] for p in per.values()])
            },
            "in_flight_at_end": sum(p["in_flight_at_end"] for p in per.values()),
            "success_ratio": _ratio(successes, requests),
            "goodput_ratio": _ratio(good, requests),
            "amplification": _ratio(attempts, requests),
            "latency_seconds": _latency(hist),
            "degraded": _sum_dicts([p["degraded"] for p in per.values()]),
            "breakers": breakers,
            "recovery_seconds": recovery,
            "groups": per,
            "services": svc,
        }

    def to_json(self, indent: int | None = 2, *, timing: bool = False) -> str:
        """The summary as JSON; with ``timing``, plus a separate ``timing`` block (wall clock)."""
        data = {**self.summary, "timing": self.timing} if timing else self.summary
        return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)

    # -- bins and series ---------------------------------------------------------------
    @cached_property
    def bins(self) -> pd.DataFrame:
        """One row per time bin x entity (client group, breaker, service)."""
        return bins_frame(*self._bins)

    @cached_property
    def series(self) -> str:
        """OpenMetrics text of the scraped series (timestamps: scenario epoch + simulated time)."""
        return render_openmetrics(self._samples.samples(), self.scenario.epoch)

    def write_series(self, path: str | Path) -> None:
        Path(path).write_text(self.series, encoding="utf-8")

    # -- looking at it -----------------------------------------------------------------
    def plot(self) -> go.Figure:
        """A plotly figure: offered vs goodput per second, success ratio, breaker open fraction."""
        from sim.observe.view import result_figure

        return result_figure(self)

    def _repr_html_(self) -> str:
        """Notebook view: a summary table and a small SVG of offered vs goodput per second."""
        from sim.observe.view import result_html

        return result_html(self)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<RunResult {s['scenario']!r} seed={self.seed} requests={s['requests']} "
            f"success_ratio={s['success_ratio']} recovery_seconds={s['recovery_seconds']}>"
        )
