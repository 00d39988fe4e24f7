"""Queue policies of a service: what leaves its queue, and in which order, when a worker frees.

Without a policy (the default) a service's queue is plain FIFO (or LIFO with
``discipline = "lifo"``) and keeps every call until a worker takes it. A policy
cures the collapse of an unbounded FIFO full of stale work; its parts combine:

* ``drop_expired``: a call whose deadline (the caller's attempt deadline,
  carried by the call) has passed when it reaches the head is dropped
  unserved; its caller has already timed out. Counted as ``cancelled``.
* ``codel``: CoDel (Nichols & Jacobson, RFC 8289) on the time calls spent in
  the queue: once it has stayed above ``target`` for ``interval``, calls are
  dropped at dequeue at a rate that grows with the square root of the drop
  count, until it falls below ``target``. A dropped call is answered at once
  with a 503 (evidence ``queue_full``) and counted as ``queue_full``.
* ``adaptive_lifo``: newest first while the queue is congested (it has not
  been empty for ``interval`` seconds), FIFO otherwise (Facebook's adaptive
  LIFO): after an overload, fresh calls go ahead of the stale backlog.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resilience._config import Config, positive, rule

__all__ = ["AdaptiveLifo", "CoDel", "QueuePolicy"]


@dataclass(frozen=True, slots=True)
class CoDel(Config):
    """Drop at dequeue once calls have waited more than ``target`` for ``interval`` seconds.

    RFC 8289's defaults are 5 ms and 100 ms, sized for packets and a 100 ms
    round trip. For a service, choose ``interval`` near the callers' attempt
    timeout (how long a standing queue may last before it is treated as one)
    and ``target`` at 5-10% of it and above a few service times, so that a
    burst that drains by itself is never cut.
    """

    target: float = field(default=0.005, metadata=rule(positive, "must be > 0 and finite"))
    interval: float = field(default=0.1, metadata=rule(positive, "must be > 0 and finite"))

    def _cross_checks(self) -> None:
        if self.target >= self.interval:
            raise self._error("target", f"must be < interval ({self.interval})")


@dataclass(frozen=True, slots=True)
class AdaptiveLifo(Config):
    """Serve newest first once the queue has been non-empty for ``interval`` seconds."""

    interval: float = field(default=0.1, metadata=rule(positive, "must be > 0 and finite"))


@dataclass(frozen=True, slots=True)
class QueuePolicy(Config):
    """Which calls leave a service's queue unserved (``drop_expired``, ``codel``), and the order
    (``adaptive_lifo``); every part off is plain FIFO."""

    drop_expired: bool = False
    codel: CoDel | None = None
    adaptive_lifo: AdaptiveLifo | None = None

    @property
    def active(self) -> bool:
        """True when any part is on."""
        return self.drop_expired or self.codel is not None or self.adaptive_lifo is not None
