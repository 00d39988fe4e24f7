"""Per-tier series of a multi-tier run in the scraped samples: offered load, answers, rejections by
cause, timeouts by source and phase, fallbacks, completed and useful work, busy worker-seconds,
workers and queue lengths (the ``resilience_tier_*`` families of the metric catalog).

Nothing here runs on a request's path: every value is read at scrape time from what the tiers
already keep (running counters, per-second counts, the replicas' live state). ``install(model)``
puts a ``TierScrapes`` in the recorder's place, so each scrape carries the tiers' samples with the
same time and run labels as the client series; ``render_openmetrics`` writes the zero sample before
a counter's first event as for every other counter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from sim.observe.series import Labels, Sample, ScrapeStore

if TYPE_CHECKING:
    from sim.graph.tier import TierRT
    from sim.observe.record import Recorder

__all__ = ["Graph", "TierSampler", "TierScrapes", "install"]

REQUESTS = "resilience_tier_requests_total"
RESPONSES = "resilience_tier_responses_total"
REJECTIONS = "resilience_tier_rejections_total"
TIMEOUTS = "resilience_tier_timeouts_total"
FALLBACKS = "resilience_tier_fallbacks_total"
COMPLETED = "resilience_tier_completed_total"
USEFUL = "resilience_tier_useful_work_total"
BUSY = "resilience_tier_busy_seconds_total"
WORKERS = "resilience_tier_workers"
QUEUE = "resilience_tier_queue_length"

_REJECTED, _TIMEOUTS = "rejected_", "timeouts_"
REPLICA_CAUSES = ("queue_full", "refused")
"""Rejections counted by the replicas themselves (a full queue or a shed, a refused connection)."""


class _Running:
    """The running total of a per-second count list at a scrape: whole seconds are added once, the
    current second is read live (later seconds cannot hold events yet)."""

    __slots__ = ("done", "total", "values")

    def __init__(self, values: list[int]) -> None:
        self.values = values
        self.done = 0  # seconds already in ``total``
        self.total = 0

    def at(self, t: float) -> int:
        values = self.values
        closed = min(int(t), len(values))
        if closed > self.done:
            self.total += sum(values[self.done : closed])
            self.done = closed
        return self.total + (values[closed] if closed < len(values) else 0)


class TierSampler:
    """The samples of one tier at a scrape time, label tuples built once."""

    def __init__(self, tier: TierRT, run_labels: Labels) -> None:
        self.tier = tier
        self.run_labels = run_labels
        self._labels: dict[tuple[str, ...], Labels] = {}
        self._running: dict[str, _Running] = {}
        self._replicas = [
            (rep, self.labels("replica", str(i)), rep.workers) for i, rep in enumerate(tier.replicas)
        ]

    def labels(self, *pairs: str) -> Labels:
        """``tier=<name>`` + ``(pairs[0], pairs[1]), …`` + the run labels."""
        out = self._labels.get(pairs)
        if out is None:
            kv = zip(pairs[0::2], pairs[1::2], strict=True)
            out = self._labels[pairs] = (("tier", self.tier.name), *kv, *self.run_labels)
        return out

    def _count(self, key: str, t: float) -> int:
        """All events of the tier's per-second series ``key`` up to ``t``."""
        r = self._running.get(key)
        if r is None:
            values = self.tier.useful_s if key == "useful" else self.tier.series[key]
            r = self._running[key] = _Running(values)
        return r.at(t)

    def sample(self, t: float, add: Any) -> None:
        """Call ``add((name, labels, value))`` for every sample of the tier at ``t``."""
        tier, lab = self.tier, self.labels
        add((REQUESTS, lab(), tier.arrivals))
        add((RESPONSES, lab("result", "success"), self._count("ok", t)))
        add((RESPONSES, lab("result", "error"), self._count("errors", t)))
        add((COMPLETED, lab(), self._count("completed", t)))
        add((USEFUL, lab(), self._count("useful", t)))
        keys = sorted(tier.series)
        for key in keys:
            if key.startswith(_REJECTED):
                add((REJECTIONS, lab("cause", key[len(_REJECTED) :]), self._count(key, t)))
        reps = tier.replicas
        for cause in REPLICA_CAUSES:
            n = sum(getattr(r, cause) for r in reps)
            if n:
                add((REJECTIONS, lab("cause", cause), n))
        for key in keys:
            if key.startswith(_TIMEOUTS):
                phase = key[len(_TIMEOUTS) :]
                add((TIMEOUTS, lab("source", tier.role, "phase", phase), self._count(key, t)))
        for label, n in sorted(tier.fallbacks_all.items()):
            add((FALLBACKS, lab("fallback", label), n))
        for rep, rlab, workers in self._replicas:
            busy = rep.area_busy + rep.busy * (t - rep._t)  # the integral up to t, read without a cut
            add((BUSY, rlab, busy))
            if workers < math.inf:
                add((WORKERS, rlab, workers))
            add((QUEUE, rlab, rep.queued))


class TierScrapes(ScrapeStore):
    """A ``ScrapeStore`` whose every scrape also holds the tiers' samples (same time, same labels)."""

    __slots__ = ("samplers",)

    def __init__(self, tiers: Iterable[TierRT], run_labels: Labels) -> None:
        super().__init__()
        self.samplers = [TierSampler(t, run_labels) for t in tiers]

    def append(self, t: float, points: list[Sample]) -> None:
        out = list(points)
        for s in self.samplers:
            s.sample(t, out.append)
        super().append(t, out)


class Graph(Protocol):
    """What ``install`` needs of a ``sim.graph.engine.Model``: its recorder and tiers."""

    rec: Recorder
    tiers: dict[str, TierRT]


def install(model: Graph) -> None:
    """Scrape ``model``'s tiers with its client series from the first scrape on (before the run)."""
    rec = model.rec
    if len(rec.samples):
        raise RuntimeError("install the tier series before the run's first scrape")
    rec.samples = TierScrapes(model.tiers.values(), rec.run_labels)
