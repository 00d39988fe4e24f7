"""Late answers that still fill a cache (``cache = {fill_late = true}``).

A cache tier stops waiting for a backend call when the call's timer fires (the propagated deadline
or the edge's attempt timeout); without ``fill_late`` the backend's later answer is dropped. With
it, a successful answer to a call of the route's last step fills the key the miss asked for when it
reaches the cache tier (after the edge link's delay; a lost answer fills nothing), whether or not
anyone still waits for it. stability-sim's caches behave so: a miss's answer fills the cache
whenever it comes back. A backend that starts expired work (``serve_expired``) answers such calls.
"""

from __future__ import annotations

from typing import Any

from sim.graph.tier import TierRT
from sim.graph.visit import Visit
from sim.model.driver import call_later
from sim.model.links import LOST

__all__ = ["LateAnswerTier", "late_targets"]


def late_targets(sc: Any) -> set[str]:
    """The services that some cache tier with ``fill_late`` calls (over any of its edges)."""
    out = set()
    for e in sc.edges.values():
        cache = sc.services[e.caller].cache
        if cache is not None and cache.fill_late:
            out.add(e.target)
    return out


class LateAnswerTier(TierRT):
    """A tier called by a cache tier with ``fill_late``: its answers to calls whose caller stopped
    waiting (the attempt's timer fired first) still fill the caller's cache."""

    def answered(self, v: Visit, code: Any, now: float) -> None:
        TierRT.answered(self, v, code, now)
        if code is None and v.done and v.client is None:  # an edge's attempt that timed out
            self._fill_late(v, now)

    def _fill_late(self, v: Visit, now: float) -> None:
        h = v.hop
        parent: Visit = h.parent
        cache = parent.tier.caches[parent.replica]
        if cache is None or not cache.cfg.fill_late or parent.key < 0:
            return
        if h.gen != len(parent.route.steps) - 1:  # only the last step's answer is what is cached
            return
        key = parent.key
        link = h.edge.link
        if link is None:
            cache.late_fill(key, now)
            return
        d = link.delay()
        if d == LOST:
            return
        env = self.env
        call_later(env, d, lambda _ev: cache.late_fill(key, env.now))
