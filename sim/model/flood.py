"""The flood detector of a tier: flags an IP whose new-connection rate exceeds a threshold.

An IP is flagged when it opened more than ``threshold`` new connections in
the last ``window`` seconds, ``(now - window, now]``, this one included. The
count is exact: each IP keeps its newest ``threshold + 1`` timestamps, and the
IP is flagged when it holds that many and the oldest lies inside the window.
An IP with nothing inside the window is forgotten (it would count zero), so
the table holds only IPs active within the window, at most ``max_ips`` (the
least recently seen is forgotten first, counted in ``evicted_busy``).
Time must not go backwards between calls.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from sim.scenario.gates import FloodConfig

__all__ = ["FloodDetector"]


class FloodDetector:
    """Sliding-window count of new connections per IP. Counters: ``observed``, ``flagged``,
    ``evicted_busy``."""

    __slots__ = ("_seen", "config", "evicted_busy", "flagged", "observed")

    def __init__(self, config: FloodConfig) -> None:
        self.config = config
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()  # least recently seen first
        self.observed = self.flagged = self.evicted_busy = 0

    def observe(self, ip: int, now: float) -> bool:
        """Record a new connection from ``ip`` at ``now``; True if ``ip`` is now over the threshold."""
        cfg = self.config
        seen = self._seen
        start = now - cfg.window
        while seen:
            first = next(iter(seen.values()))
            if first[-1] > start:
                break
            seen.popitem(last=False)
        stamps = seen.get(ip)
        if stamps is None:
            if len(seen) >= cfg.max_ips:
                seen.popitem(last=False)
                self.evicted_busy += 1
            stamps = seen[ip] = deque(maxlen=cfg.threshold + 1)
        else:
            seen.move_to_end(ip)
        stamps.append(now)
        self.observed += 1
        over = len(stamps) > cfg.threshold and stamps[0] > start
        if over:
            self.flagged += 1
        return over

    def over(self, ip: int, now: float) -> bool:
        """True if ``ip`` opened more than ``threshold`` new connections in ``(now - window, now]``;
        records nothing. Constant time."""
        stamps = self._seen.get(ip)
        return (
            stamps is not None
            and len(stamps) > self.config.threshold
            and stamps[0] > now - self.config.window
        )

    def count(self, ip: int, now: float) -> int:
        """New connections from ``ip`` in ``(now - window, now]``, capped at ``threshold + 1``; records
        nothing. Time proportional to the count."""
        stamps = self._seen.get(ip)
        if stamps is None:
            return 0
        start = now - self.config.window
        n = 0
        for t in reversed(stamps):  # newest first; stop at the first outside the window
            if t <= start:
                break
            n += 1
        return n

    def __len__(self) -> int:
        """IPs held now."""
        return len(self._seen)

    def stamps_held(self) -> int:
        """Timestamps held over all IPs (memory)."""
        return sum(len(d) for d in self._seen.values())
