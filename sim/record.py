"""Time-binned accounting: per-bin rows, scraped metric samples, the 1 s goodput grid, breaker tracking.

Hot-path code only bumps cumulative counters; ticks at bin and scrape
boundaries cut rows and samples from them, so memory grows with time bins,
not with requests.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import simpy

from resilience.metrics.catalog import LATENCY_BUCKETS

from .driver import call_later
from .histogram import LogHistogram

if TYPE_CHECKING:
    from .client import GroupRT
    from .service import ServiceRT

__all__ = ["BreakerTracker", "Recorder"]

QUANTILES = (0.5, 0.9, 0.99)
STATES = ("closed", "open", "half_open", "forced_open", "disabled")


class BreakerTracker:
    """Follows the state of every instance's breaker in a group through state listeners."""

    def __init__(self, instances: int, warmup: float) -> None:
        self.n = instances
        self.warmup = warmup
        self.state = ["closed"] * instances
        self.counts = dict.fromkeys(STATES, 0)
        self.counts["closed"] = instances
        self.open_since = [math.nan] * instances
        self.transitions: dict[tuple[str, str], int] = {}
        self.opened = 0  # transitions into open after warm-up
        self.open_seconds = 0.0  # after warm-up, summed over instances
        self.peak = 0.0
        self._area = 0.0
        self._t = 0.0

    def listener(self, i: int) -> Any:
        def on(_name: str, old: Any, new: Any, now: float) -> None:
            self.change(i, old.value, new.value, now)

        return on

    def _acc(self, now: float) -> None:
        self._area += self.counts["open"] * (now - self._t)
        self._t = now

    def change(self, i: int, old: str, new: str, now: float) -> None:
        self._acc(now)
        self.state[i] = new
        self.counts[old] -= 1
        self.counts[new] += 1
        key = (old, new)
        self.transitions[key] = self.transitions.get(key, 0) + 1
        if new == "open":
            self.open_since[i] = now
            if now >= self.warmup:
                self.opened += 1
        elif old == "open":
            self._close(i, now)
        if now >= self.warmup:
            self.peak = max(self.peak, self.counts["open"] / self.n)

    def _close(self, i: int, now: float) -> None:
        since = self.open_since[i]
        if not math.isnan(since):
            self.open_seconds += max(0.0, now - max(since, self.warmup))
        self.open_since[i] = math.nan

    def finish(self, now: float) -> None:
        self._acc(now)
        for i, s in enumerate(self.state):
            if s == "open":
                self._close(i, now)

    def take_area(self, now: float) -> float:
        self._acc(now)
        a, self._area = self._area, 0.0
        return a


class Recorder:
    """Cuts bins (``rows``) and scrapes (``samples``) from cumulative counters."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS

    def __init__(self, env: simpy.Environment, duration: float, bin_width: float, scrape: float) -> None:
        self.env = env
        self.bin_width = bin_width
        self.scrape = scrape
        n = math.ceil(duration) + 2
        self.offered_s = [0] * n  # per arrival second, counted or not
        self.good_s = [0] * n
        self.groups: list[GroupRT] = []
        self.services: list[ServiceRT] = []
        self.breakers: dict[str, BreakerTracker] = {}
        self.rows: list[dict[str, Any]] = []
        self.samples: list[tuple[float, list[tuple[str, tuple[tuple[str, str], ...], Any]]]] = []
        self._prev: dict[str, dict[str, Any]] = {}
        self._bin_start = 0.0
        self._k = 0

    # -- ticks ---------------------------------------------------------------------------
    def start(self) -> None:
        call_later(self.env, self.bin_width, self._bin_tick)
        call_later(self.env, 0.0, self._scrape_tick)

    def _bin_tick(self, _ev: object) -> None:
        self.cut_bin(self.env.now)
        self._k += 1
        call_later(self.env, (self._k + 1) * self.bin_width - self.env.now, self._bin_tick)

    def _scrape_tick(self, _ev: object) -> None:
        self.scrape_now(self.env.now)
        call_later(self.env, self.scrape, self._scrape_tick)

    def _diff(self, key: str, now: dict[str, Any]) -> dict[str, Any]:
        prev = self._prev.get(key, {})
        out = {}
        for k, v in now.items():
            p = prev.get(k, 0)
            out[k] = v - p
        self._prev[key] = now
        return out

    def cut_bin(self, end: float) -> None:
        start = self._bin_start
        width = end - start
        if width <= 0:
            return
        base = {"bin_start": start, "bin_end": end}
        for g in self.groups:
            cum: dict[str, Any] = {
                "offered": g.offered,
                "attempts": g.attempts,
                "successes": g.successes,
                "goodput": g.good,
                "retries": sum(g.retries.values()),
            }
            for r, v in g.failures.items():
                cum[f"failures_{r}"] = v
            for r, v in g.degraded.items():
                cum[f"degraded_{r}"] = v
            d = self._diff("g:" + g.name, cum)
            d["failures"] = sum(v for k, v in d.items() if k.startswith("failures_"))
            d["degraded"] = sum(v for k, v in d.items() if k.startswith("degraded_"))
            h = LogHistogram.merged((g.lat_bin, g.lat_bin_counted))
            g.c_latency.merge(g.lat_bin_counted)
            qs = h.quantiles(QUANTILES)
            row = {
                **base,
                "entity_kind": "client",
                "entity": g.name,
                **d,
                "in_flight": g.in_flight,
                "latency_mean": h.mean,
                "latency_p50": qs[0],
                "latency_p90": qs[1],
                "latency_p99": qs[2],
            }
            budgets = [p.budget for p in g.pipelines if p.budget is not None]
            if budgets:
                row["budget_tokens"] = sum(b.available(end) for b in budgets) / len(budgets)
            g.lat_bin, g.lat_bin_counted = LogHistogram(), LogHistogram()
            self.rows.append(row)
            tr = self.breakers.get(g.name)
            if tr is not None:
                opened = sum(v for (_, new), v in tr.transitions.items() if new == "open")
                d2 = self._diff("b:" + g.name, {"breaker_opened": opened})
                self.rows.append(
                    {
                        **base,
                        "entity_kind": "breaker",
                        "entity": g.edge,
                        **d2,
                        "breaker_open_fraction": tr.take_area(end) / (width * tr.n),
                        **{f"breakers_{s}": c for s, c in tr.counts.items()},
                    }
                )
        for s in self.services:
            s._acc(end)
            cum = {
                "arrivals": s.arrivals,
                "served": s.served,
                "queue_full": s.queue_full,
                "refused": s.refused,
                "errors": s.errors_sent,
                "_busy": s.area_busy,
                "_queue": s.area_queue,
            }
            d = self._diff("s:" + s.name, cum)
            busy, queue = d.pop("_busy"), d.pop("_queue")
            util = busy / (s.workers * width) if s.workers < math.inf else math.nan
            self.rows.append(
                {
                    **base,
                    "entity_kind": "service",
                    "entity": s.name,
                    **d,
                    "queue_length": s.queued,
                    "in_service": s.busy,
                    "utilisation": util,
                    "in_system_mean": (busy + queue) / width,
                }
            )
        self._bin_start = end

    def scrape_now(self, t: float) -> None:
        out: list[tuple[str, tuple[tuple[str, str], ...], Any]] = []
        add = out.append
        timeouts: dict[str, int] = {}
        for g in self.groups:
            n = (("name", g.edge),)
            add(("resilience_requests_total", (*n, ("result", "success"), ("reason", "")), g.successes))
            for r, v in g.failures.items():
                add(("resilience_requests_total", (*n, ("result", "failure"), ("reason", r)), v))
            for r, v in g.degraded.items():
                add(("resilience_requests_total", (*n, ("result", "degraded"), ("reason", r)), v))
            if g.fallback is not None:
                add(("resilience_fallbacks_total", (*n, ("tier", g.fallback)), sum(g.degraded.values())))
            attempts = g.attempt_stats()
            for k, (h, _) in attempts.items():
                add(("resilience_attempts_total", (*n, ("outcome", k)), sum(h)))
            for c, v in g.retries.items():
                add(("resilience_retries_total", (*n, ("cause", c)), v))
            if "retry_after_clamped" in g.retries:
                add(("resilience_retry_after_clamped_total", n, g.retries["retry_after_clamped"]))
            for r, v in g.rejections.items():
                add(("resilience_local_rejections_total", (*n, ("reason", r)), v))
            for p, v in g.timeouts.items():
                timeouts[p] = timeouts.get(p, 0) + v
            sums = {"success": g.success_sum, **g.req_sum}
            for res, h in g.req_hist.items():
                add(("resilience_request_duration_seconds", (*n, ("result", res)), (tuple(h), sums[res])))
            for k, (h, total) in attempts.items():
                add(("resilience_attempt_duration_seconds", (*n, ("outcome", k)), (tuple(h), total)))
            budgets = [p.budget for p in g.pipelines if p.budget is not None]
            if budgets:
                add(("resilience_budget_tokens", n, sum(b.available(t) for b in budgets) / len(budgets)))
            tr = self.breakers.get(g.name)
            if tr is not None:
                for s, c in tr.counts.items():
                    add(("resilience_breaker_state", (*n, ("state", s)), c / tr.n))
                snaps = [p.breaker.metrics(t) for p in g.pipelines if p.breaker is not None]  # type: ignore[attr-defined]
                kinds: dict[str, int] = {}
                for m in snaps:
                    for k, v in m.calls_by_kind().items():
                        kinds[k] = kinds.get(k, 0) + v
                for k, v in kinds.items():
                    add(("resilience_breaker_calls_total", (*n, ("kind", k)), v))
                add(("resilience_breaker_failure_rate", n, sum(m.failure_rate for m in snaps) / len(snaps)))
                add(
                    (
                        "resilience_breaker_slow_call_rate",
                        n,
                        sum(m.slow_call_rate for m in snaps) / len(snaps),
                    )
                )
                for (a, b), v in tr.transitions.items():
                    add(("resilience_breaker_transitions_total", (*n, ("from_state", a), ("to_state", b)), v))
        for p, v in sorted(timeouts.items()):
            add(("resilience_timeouts_total", (("source", "client"), ("phase", p)), v))
        self.samples.append((t, out))
