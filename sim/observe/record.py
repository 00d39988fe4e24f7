"""Time-binned accounting: per-bin cuts, scraped metric samples, the 1 s goodput grid, breaker sampling.

Hot-path code only bumps cumulative counters; ticks at bin and scrape
boundaries append the counters' values (``sim.observe.bins`` turns them into the bins
DataFrame at the end) and samples, so memory grows with time bins, not with
requests.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any

import simpy

from resilience.breaker.snapshot import CALL_KINDS
from resilience.metrics.catalog import LATENCY_BUCKETS
from sim.model.driver import call_later
from sim.observe.bins import GroupBins, ServiceBins
from sim.observe.breakers import BreakerTracker, breaker_totals, tick_breakers
from sim.observe.histogram import LogHistogram
from sim.observe.series import ScrapeStore

if TYPE_CHECKING:
    from sim.model.client import GroupRT
    from sim.model.service import ServiceRT

__all__ = ["Recorder"]


class Recorder:
    """Cuts bins (``ends`` + per-entity columns) and scrapes (``samples``) from cumulative counters."""

    def __init__(
        self,
        env: simpy.Environment,
        duration: float,
        bin_width: float,
        scrape: float,
        labels: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.env = env
        self.buckets: tuple[float, ...] = LATENCY_BUCKETS  # upper bounds of the latency histograms
        self.run_labels = labels  # appended to every scraped series (run, scenario, seed)
        self.bin_width = bin_width
        self.scrape = scrape
        n = math.ceil(duration) + 2
        self.offered_s = [0] * n  # per arrival second, counted or not
        self.good_s = [0] * n
        self.groups: list[GroupRT] = []
        self.services: list[ServiceRT] = []
        self.breakers: dict[str, BreakerTracker] = {}
        self.ends = array("d")  # bin ends; a bin starts where the previous one ended (the first at 0)
        self.group_bins: list[GroupBins] = []
        self.service_bins: list[ServiceBins] = []
        self.samples = ScrapeStore()
        self._labels: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        self._group_cuts: list[tuple[GroupRT, GroupBins]] = []
        self._service_cuts: list[tuple[ServiceRT, ServiceBins]] = []
        self._bin_start = 0.0
        self._k = 0
        self._finished = False

    # -- ticks ---------------------------------------------------------------------------
    def start(self) -> None:
        self._columns()
        call_later(self.env, self.bin_width, self._bin_tick)
        call_later(self.env, 0.0, self._scrape_tick)

    def _bin_tick(self, _ev: object) -> None:
        env = self.env
        now = env.now
        self.cut_bin(now)
        self._k = k = self._k + 1
        # the next end is computed from the bin index, not by adding widths (no drift)
        call_later(env, (k + 1) * self.bin_width - now, self._bin_tick)

    def _scrape_tick(self, _ev: object) -> None:
        self.scrape_now(self.env.now)
        call_later(self.env, self.scrape, self._scrape_tick)

    def _columns(self) -> None:
        self.group_bins = [GroupBins(g, self.breakers.get(g.name)) for g in self.groups]
        self.service_bins = [ServiceBins(s) for s in self.services]
        # (entity, its columns) pairs, built once: the bin cut runs every bin and walks these
        self._group_cuts = list(zip(self.groups, self.group_bins, strict=True))
        self._service_cuts = list(zip(self.services, self.service_bins, strict=True))

    def finish(self) -> None:
        """After the last cut: merge the stored latency histograms of counted requests into each
        group's ``c_latency`` (the summary's), in bin order."""
        if self._finished:
            return
        self._finished = True
        for g, b in zip(self.groups, self.group_bins, strict=True):
            b.latency.merge_counted(g.c_latency)

    def cut_bin(self, end: float) -> None:
        """Append each entity's cumulative counters at ``end`` (differences are taken in ``bins_frame``).

        Runs once per bin (every simulated second by default), so it is written flat: one pass over
        the (entity, columns) pairs, a tuple per column family, no helper calls on the common path.
        """
        if end - self._bin_start <= 0:
            return
        if len(self.group_bins) != len(self.groups) or len(self.service_bins) != len(self.services):
            self._columns()
        k = len(self.ends)
        self.ends.append(end)
        for g, b in self._group_cuts:
            retries = sum(g.retries.values())
            b.counts.extend((g.offered, g.attempts, g.successes, g.good, retries, g.in_flight))
            f = g.failures
            b.failures.sizes.append(len(f))
            if f:
                b.failures.values.extend(f.values())
            f = g.degraded
            b.degraded.sizes.append(len(f))
            if f:
                b.degraded.values.extend(f.values())
            lb = g.lat_bin
            if lb.n:
                b.latency.add(k, lb, 0)
                g.lat_bin = LogHistogram()
            lc = g.lat_bin_counted
            if lc.n:
                b.latency.add(k, lc, 1)
                g.lat_bin_counted = LogHistogram()
            tokens = g.pipelines.budget_tokens(end) if b.budgets else None
            if tokens is not None:  # the mean over every instance, unbuilt ones as new ones
                b.tokens.append(tokens)
            tr = b.tracker
            if tr is not None:
                if tr.unsettled:  # tick_breakers(g, tr, end): only breakers not closed can have one due
                    tick_breakers(g, tr, end)
                counts = tr.counts
                tr._area += counts["open"] * (end - tr._t)  # take_area(end), inline
                tr._t = end
                b.breaker.extend((tr.opened_total, tr._area, *counts.values()))
                tr._area = 0.0
        for s, sb in self._service_cuts:
            dt = end - s._t  # s._acc(end), inline
            if dt:
                s.area_busy += s.busy * dt
                s.area_queue += s.queued * dt
                s._t = end
            sb.cuts.extend(
                (
                    s.arrivals,
                    s.served,
                    s.queue_full,
                    s.refused,
                    s.errors_sent,
                    s.area_busy,
                    s.area_queue,
                    s.queued,
                    s.busy,
                )
            )
        self._bin_start = end

    def _lab(self, *key: str) -> tuple[tuple[str, str], ...]:
        """Label pairs ``name=key[0]`` + ``(key[1], key[2]), (key[3], key[4]) …`` + the run labels,
        built once per key."""
        labels = self._labels.get(key)
        if labels is None:
            pairs = (("name", key[0]), *zip(key[1::2], key[2::2], strict=True), *self.run_labels)
            labels = self._labels[key] = pairs
        return labels

    def scrape_now(self, t: float) -> None:
        out: list[tuple[str, tuple[tuple[str, str], ...], Any]] = []
        add = out.append
        lab = self._lab
        for g in self.groups:
            e = g.edge
            n = lab(e)
            add(("resilience_requests_total", lab(e, "result", "success", "reason", ""), g.successes))
            for r, v in g.failures.items():
                add(("resilience_requests_total", lab(e, "result", "failure", "reason", r), v))
            for r, v in g.degraded.items():
                add(("resilience_requests_total", lab(e, "result", "degraded", "reason", r), v))
            if g.fallback is not None:
                add(("resilience_fallbacks_total", lab(e, "tier", g.fallback), sum(g.degraded.values())))
            attempts = g.attempt_stats()
            for k, (h, _) in attempts.items():
                add(("resilience_attempts_total", lab(e, "outcome", k), sum(h)))
            for c, v in g.retries.items():
                add(("resilience_retries_total", lab(e, "cause", c), v))
            if "retry_after_clamped" in g.retries:
                add(("resilience_retry_after_clamped_total", n, g.retries["retry_after_clamped"]))
            for r, v in g.rejections.items():
                add(("resilience_local_rejections_total", lab(e, "reason", r), v))
            for p, v in sorted(g.timeouts.items()):
                add(("resilience_timeouts_total", lab(e, "source", "client", "phase", p), v))
            sums = {"success": g.success_sum, **g.req_sum}
            for res, h in g.req_hist.items():
                add(("resilience_request_duration_seconds", lab(e, "result", res), (tuple(h), sums[res])))
            for k, (h, total) in attempts.items():
                add(("resilience_attempt_duration_seconds", lab(e, "outcome", k), (tuple(h), total)))
            tokens = g.pipelines.budget_tokens(t)
            if tokens is not None:
                add(("resilience_budget_tokens", n, tokens))
            tr = self.breakers.get(g.name)
            if tr is not None:
                tick_breakers(g, tr, t)
                for state, count in tr.counts.items():
                    add(("resilience_breaker_state", lab(e, "state", state), count / tr.n))
                kinds, failure_rate, slow_rate, late = breaker_totals(g, t)
                for k, v in zip(CALL_KINDS, kinds, strict=True):
                    add(("resilience_breaker_calls_total", lab(e, "kind", k), v))
                add(("resilience_breaker_failure_rate", n, failure_rate))
                add(("resilience_breaker_slow_call_rate", n, slow_rate))
                add(("resilience_breaker_late_outcomes_total", n, late))
                for (a, b), v in tr.transitions.items():
                    add(("resilience_breaker_transitions_total", lab(e, "from_state", a, "to_state", b), v))
        self.samples.append(t, out)
