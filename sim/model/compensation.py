"""An asynchronous compensation queue, computed lazily: no event per item.

Work accepted on a fallback (a checkout whose write failed, to be redone
later) waits in FIFO order and is drained by one worker at ``rate`` items per
second: within a busy period that started at ``t0`` (an item arrived to an
empty queue), the ``n``-th item leaves at ``t0 + n / rate``. An item offered
while ``capacity`` items wait is dropped. Times passed in must not go back.

At every time: ``backlog = enqueued - drained - dropped``. :meth:`CompensationQueue.accept`
takes the :class:`resilience.fallback.CompensationRecord` that a real
``Fallback`` asks to enqueue (its ``Enqueue`` step) and answers whether it was
accepted (``Degradation.on_enqueued(..., ok=...)``).
"""

from __future__ import annotations

import math

from resilience.fallback import CompensationRecord
from sim.scenario.stores import CompensationConfig

__all__ = ["CompensationQueue"]


class CompensationQueue:
    """Counts ``enqueued`` (offered), ``drained``, ``dropped``; ``backlog(now)`` and ``max_backlog``."""

    __slots__ = (
        "_busy_since",
        "_capacity",
        "_in_period",
        "_now",
        "_period_done",
        "_rate",
        "cfg",
        "drained",
        "dropped",
        "enqueued",
        "max_backlog",
    )

    def __init__(self, cfg: CompensationConfig) -> None:
        self.cfg = cfg
        self._rate = cfg.rate
        self._capacity = cfg.capacity
        self._now = -math.inf
        self._busy_since = 0.0  # start of the current busy period
        self._in_period = 0  # items accepted in the current busy period
        self._period_done = 0  # of which drained
        self.enqueued = 0
        self.drained = 0
        self.dropped = 0
        self.max_backlog = 0

    def enqueue(self, now: float) -> float | None:
        """Offer one item at ``now``: the time it will be drained, or None if dropped (queue full)."""
        self._advance(now)
        self.enqueued += 1
        waiting = self._in_period - self._period_done
        if waiting >= self._capacity:
            self.dropped += 1
            return None
        if waiting == 0:
            self._busy_since, self._in_period, self._period_done = now, 0, 0
        self._in_period += 1
        self.max_backlog = max(self.max_backlog, waiting + 1)
        return self._busy_since + self._in_period / self._rate

    def accept(self, record: CompensationRecord) -> bool:
        """Enqueue a fallback's compensation record at its time ``record.at``; False if dropped."""
        return self.enqueue(record.at) is not None

    def backlog(self, now: float) -> int:
        """Items waiting (or being drained) at ``now``."""
        self._advance(now)
        return self._in_period - self._period_done

    def counters(self, now: float) -> dict[str, int]:
        """The counters at ``now`` as plain data for results."""
        backlog = self.backlog(now)
        return {
            "enqueued": self.enqueued,
            "drained": self.drained,
            "dropped": self.dropped,
            "backlog": backlog,
            "max_backlog": self.max_backlog,
        }

    def _advance(self, now: float) -> None:
        if now < self._now:
            raise ValueError(f"now={now!r}: must not be before the last time given ({self._now!r})")
        self._now = now
        waiting = self._in_period - self._period_done
        if waiting == 0:
            return
        # items of this busy period whose drain time busy_since + n / rate is <= now
        # (1e-9: the drain time returned by enqueue counts as reached despite rounding)
        done = min(self._in_period, math.floor((now - self._busy_since) * self._rate + 1e-9))
        if done > self._period_done:
            self.drained += done - self._period_done
            self._period_done = done
