"""Breaker tracking for the recorder: each instance's state through listeners, due transitions applied
before sampling, and the group's breaker counts summed as metric snapshots would give them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from resilience.breaker.state import BreakerState

if TYPE_CHECKING:
    from sim.model.client import GroupRT

__all__ = ["STATES", "BreakerTracker", "breaker_totals", "tick_breakers"]

STATES = ("closed", "open", "half_open", "forced_open", "disabled")
_HALF_OPEN = BreakerState.HALF_OPEN


class BreakerTracker:
    """Follows the state of every instance's breaker in a group through state listeners.

    A transition is stamped at the time it was due (the end of an open wait),
    which can be earlier than the last change the tracker saw (another
    instance's) when no call or tick reached that breaker since; the open
    area is corrected back to the stamp. The recorder ticks every breaker
    before it samples the tracker, so such corrections stay within the bin.
    """

    def __init__(self, instances: int, warmup: float) -> None:
        self.n = instances
        self.warmup = warmup
        self.state = ["closed"] * instances
        self.unsettled: set[int] = set()  # instances not closed: the only ones a transition can fall due in
        self.counts = dict.fromkeys(STATES, 0)
        self.counts["closed"] = instances
        self.open_since = [math.nan] * instances
        self.transitions: dict[tuple[str, str], int] = {}
        self.opened = 0  # transitions into open after warm-up
        self.opened_total = 0  # transitions into open since t = 0 (the bins' running count)
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
        if now >= self._t:
            self._acc(now)
        else:  # a due transition reported after later changes: credit the open time since its stamp
            late = self._t - now
            self._area += late * ((new == "open") - (old == "open"))
        self.state[i] = new
        if new == "closed":
            self.unsettled.discard(i)
        else:
            self.unsettled.add(i)
        self.counts[old] -= 1
        self.counts[new] += 1
        key = (old, new)
        self.transitions[key] = self.transitions.get(key, 0) + 1
        if new == "open":
            self.open_since[i] = now
            self.opened_total += 1
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


def tick_breakers(g: GroupRT, tr: BreakerTracker, t: float) -> None:
    """Apply the group's breaker transitions due by ``t`` (each stamped at its due time, so the
    simulation's decisions do not depend on when this runs) before their state is sampled.

    Only breakers that are not closed can have a transition due; the tracker knows which (closed
    breakers are most of them, most of the time), and they are ticked in instance order."""
    if not tr.unsettled:
        return
    pipelines = g.pipelines
    for i in sorted(tr.unsettled):
        b: Any = pipelines[i].breaker
        b.tick(t)


def breaker_totals(g: GroupRT, t: float) -> tuple[list[int], float, float, int]:
    """The group's breakers summed (``calls_by_kind`` counts, late outcomes) and averaged (failure and
    slow-call rates) as ``metrics(t)`` snapshots would give them, without building the snapshots
    (instances not built yet count as new breakers: ``Instances.breaker_totals``)."""
    totals = g.pipelines.breaker_totals(t)
    assert totals is not None, f"{g.name}: no breakers"
    return totals
