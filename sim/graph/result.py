"""Results of a multi-tier run: the single-tier summary plus tiers, edges, timeouts and root causes."""

from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sim.observe.result import RunResult

if TYPE_CHECKING:
    import pandas as pd

    from sim.graph.entry import RootCause
    from sim.graph.tier import TierRT
    from sim.observe.histogram import LogHistogram
    from sim.observe.record import Recorder
    from sim.scenario.spec import Scenario
    from sim.stepper import Stepped

__all__ = ["GraphResult"]

FATES = ("served", "queue_full", "refused", "fast_errors", "cancelled", "deadline_expired")
"""What can become of a request that entered a replica (besides being in flight at the end)."""


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _q(h: LogHistogram) -> dict[str, float | None]:
    if h.n == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None, "p999": None}
    q = h.quantiles((0.5, 0.9, 0.99, 0.999))
    return {"mean": h.mean, "p50": q[0], "p90": q[1], "p99": q[2], "p999": q[3]}


def _cache_extras(cfg: Any, caches: list[Any]) -> dict[str, int]:
    """The counters of a cache tier's options, only when they are on (a plain TTL cache adds none):
    ``evictions`` (``capacity``), ``late_fills`` (``fill_late``), ``flushes`` (when flushed)."""
    out: dict[str, int] = {}
    if cfg.capacity is not None:
        out["evictions"] = sum(c.evictions for c in caches)
    if cfg.fill_late:
        out["late_fills"] = sum(c.late_fills for c in caches)
    flushes = sum(c.flushes for c in caches)
    if flushes:
        out["flushes"] = flushes
    return out


def _sorted(d: dict[str, int]) -> dict[str, int]:
    return dict(sorted(d.items()))


class GraphResult(RunResult):
    """A ``RunResult`` whose ``summary`` also has ``tiers``, ``edges``, ``timeouts``, ``root_causes``
    (a count; the triples are ``root_causes``) and ``degraded_answers``."""

    def __init__(
        self, scenario: Scenario, seed: int, end: float, model: Any, rec: Recorder, stepped: Stepped | None
    ):
        self.model = model
        super().__init__(
            scenario, seed, end, dict(model.groups), dict(model.replicas), model.links, rec, stepped
        )
        s = self.summary
        requests = s["requests"]
        s["tiers"] = {name: self._tier(t, requests) for name, t in model.tiers.items()}
        s["edges"] = {name: self._edge(name) for name in model.edge_stats}
        timeouts: dict[str, dict[str, int]] = {"client": _sorted(model.tracer.client_timeouts)}
        for t in model.tiers.values():
            per = timeouts.setdefault(t.role, {})
            for phase, n in t.timeouts.items():
                per[phase] = per.get(phase, 0) + n
        s["timeouts"] = {k: _sorted(v) for k, v in sorted(timeouts.items())}
        s["root_causes"] = len(model.tracer.root_causes)
        degraded: dict[str, int] = {}
        for g in model.groups.values():
            for k, n in g.c_degraded_answers.items():
                degraded[k] = degraded.get(k, 0) + n
        s["degraded_answers"] = _sorted(degraded)

    @property
    def root_causes(self) -> list[RootCause]:
        """Per request that failed or was answered degraded after a timeout in its tree: the first
        timeout's (time, trace id, source, tier, phase)."""
        return list(self.model.tracer.root_causes)

    @cached_property
    def tier_seconds(self) -> pd.DataFrame:
        """One row per second x tier: ``offered``, ``ok``, ``errors``, ``completed``, ``useful``,
        ``useful_ratio`` (useful / completed), ``fallbacks``, ``rejected_<cause>``, ``timeouts_<phase>``
        (events by the second they happened; replica queues and utilisation are in ``bins``)."""
        import pandas as pd

        end = math.ceil(self.sim_seconds)
        frames = []
        for name, t in self.model.tiers.items():
            cols: dict[str, Any] = {"second": range(end), "tier": name, "offered": t.offered_s[:end]}
            for key in ("ok", "errors", "completed"):
                cols[key] = t.series.get(key, [0] * t._n)[:end]
            cols["useful"] = t.useful_s[:end]
            for key in sorted(t.series):
                if key not in cols:
                    cols[key] = t.series[key][:end]
            frames.append(pd.DataFrame(cols))
        out = pd.concat(frames, ignore_index=True).fillna(0)
        done = out["completed"].where(out["completed"] > 0)
        out["useful_ratio"] = out["useful"] / done
        return out

    @property
    def clean_goodput_per_second(self) -> list[int]:
        """Per arrival second: successful answers within the SLO that were not degraded."""
        groups = list(self.model.groups.values())
        return [sum(col) for col in zip(*(g.clean_good_s for g in groups), strict=True)]

    def _tier(self, t: TierRT, requests: int) -> dict[str, Any]:
        span = max(self.sim_seconds - self.scenario.warmup, 1e-12)
        reps = t.replicas
        fates = {
            "served": sum(r.c_served for r in reps),
            "queue_full": sum(r.c_queue_full for r in reps),
            "refused": sum(r.c_refused for r in reps),
            "fast_errors": sum(r.c_fast_errors for r in reps),
            "cancelled": sum(r.c_cancelled for r in reps),
            "deadline_expired": sum(r.c_deadline_expired for r in reps),
        }
        workers = sum(r.workers for r in reps)
        busy = sum(r.c_area_busy for r in reps)
        out: dict[str, Any] = {
            "role": t.role,
            "replicas": len(reps),
            "arrivals": t.c_arrivals,
            "rejected": _sorted(t.c_rejected),
            "diverted": t.c_diverted,
            "entered": sum(r.c_arrivals for r in reps),
            **fates,
            "in_flight_at_end": t.in_flight(since=t.warmup),
            "answered_ok": t.answered_ok,
            "answered_error": t.answered_error,
            "degraded": t.degraded,
            "fallbacks": _sorted(t.fallbacks),
            "timeouts": _sorted(t.timeouts),
            "expired_before_step": t.expired_steps,
            "utilisation": busy / (workers * span) if workers < math.inf else None,
            "mean_queue_length": sum(r.c_area_queue for r in reps) / span,
            "in_tier_seconds": _q(t.in_tier),
            "useful_work_ratio": _ratio(t.useful, t.completed),
            "amplification": _ratio(t.c_arrivals, requests),
        }
        if any(c is not None for c in t.caches):
            hits = sum(c.hits for c in t.caches)
            misses = sum(c.misses for c in t.caches)
            out["cache"] = {"hits": hits, "misses": misses, "hit_ratio": _ratio(hits, hits + misses)}
            out["cache"].update(_cache_extras(t.cfg.cache, t.caches))
        if t.ledger is not None:
            out["side_effects"] = t.ledger.counters()
        return out

    def _edge(self, name: str) -> dict[str, Any]:
        e = self.scenario.edges[name]
        st = self.model.edge_stats[name]
        out: dict[str, Any] = {
            "caller": e.caller,
            "target": e.target,
            "requests": st.requests,
            "attempts": st.attempts,
            "amplification": _ratio(st.attempts, st.requests),
            "successes": st.successes,
            "failures": _sorted(st.failures),
            "fallbacks": st.fallbacks,
            "compensated": st.compensated,
            "retries": st.retries,
            "timeouts": _sorted(st.timeouts),
        }
        queues = self.model.compensation.get(name)
        if queues:
            counts = [q.counters(self.sim_seconds) for q in queues]
            out["compensation"] = {k: sum(c[k] for c in counts) for k in counts[0] if k != "max_backlog"}
        tr = self.model.edge_breakers.get(name)
        if tr is not None:
            out["breaker"] = {
                "opened": tr.opened,
                "open_seconds": tr.open_seconds / tr.n,
                "peak_open_fraction": tr.peak,
            }
        return out
