"""A rate limiter per key (e.g. per client IP): one token bucket per key, bounded memory, idle eviction.

Each key gets its own token bucket on first use. A key whose
bucket is full again is *idle*: its bucket is in the very state of a fresh
one, so evicting it changes no later decision. The table holds at most
``max_keys`` keys; a new key that finds it full evicts idle keys first. When
every key is busy (its bucket not yet full), ``when_full`` decides:

* ``"evict_fullest"`` (default): evict the key whose bucket holds the most
  tokens (the one that would be idle soonest). When it returns it starts
  full, so it may be granted up to ``burst - tokens`` more than an unbounded
  limiter would have granted it; nothing else changes.
* ``"refuse"``: refuse the new key's call (counted as ``rate_limited`` and in
  ``refused_full``) until a key goes idle; the keys already held keep their
  buckets.

Time comes from the caller (``now``, seconds, any monotonic origin). Eviction
is judged at the ``now`` of the call that evicts: with time that never goes
backwards an idle eviction is exact; a thread passing a slightly stale ``now``
after an eviction may find a fresh bucket where the old one lacked a few tokens.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Hashable
from dataclasses import dataclass, field

from .._config import Config, positive, rule
from ..metrics.counters import CounterSink, LabelCounts
from .rate_limit import TokenBucketConfig
from .rejection import RejectionCause

__all__ = ["KeyedRateLimiter", "KeyedRateLimiterConfig"]

WHEN_FULL = ("evict_fullest", "refuse")
_RATE_LIMITED = RejectionCause.RATE_LIMITED.value


@dataclass(frozen=True, slots=True)
class KeyedRateLimiterConfig(Config):
    """Per key: ``rate`` tokens per second, at most ``burst`` stored; at most ``max_keys`` keys held."""

    rate: float = field(default=100.0, metadata=rule(positive, "must be > 0 and finite"))
    burst: float = field(default=100.0, metadata=rule(lambda v: math.isfinite(v) and v >= 1, "must be >= 1"))
    max_keys: int = field(
        default=10_000, metadata=rule(lambda v: 1 <= v <= 100_000_000, "must be in 1..100000000")
    )
    when_full: str = field(
        default="evict_fullest", metadata=rule(lambda v: v in WHEN_FULL, "must be evict_fullest or refuse")
    )

    @property
    def bucket(self) -> TokenBucketConfig:
        """The config of each key's bucket."""
        return TokenBucketConfig(rate=self.rate, burst=self.burst)


class _Slot:
    """A key's bucket: its tokens as of ``last``, and when it will be full again (if nothing more is
    taken). The refill is ``TokenBucketRateLimiter``'s, step for step."""

    __slots__ = ("full_at", "last", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now
        self.full_at = now


class KeyedRateLimiter:
    """Thread-safe token buckets by key, at most ``config.max_keys`` of them; refusals counted as
    ``rate_limited`` under ``name``.

    Each key's bucket behaves exactly as a ``TokenBucketRateLimiter`` of ``config.bucket``
    (same arithmetic, so the same decisions), held as three numbers under this limiter's one lock.
    Counters: ``evicted_idle``, ``evicted_busy`` (``evict_fullest`` on a table of busy
    keys), ``refused_full`` (``refuse`` on a table of busy keys).
    """

    __slots__ = (
        "_burst",
        "_heap",
        "_lock",
        "_rate",
        "_seq",
        "_slots",
        "config",
        "evicted_busy",
        "evicted_idle",
        "name",
        "refused_full",
        "rejections",
    )

    def __init__(
        self,
        config: KeyedRateLimiterConfig | None = None,
        *,
        name: str = "default",
        sink: CounterSink | None = None,
    ) -> None:
        self.config = config or KeyedRateLimiterConfig()
        self.name = name
        self.rejections = LabelCounts("resilience_admission_rejections_total", "cause", name, sink)
        self._rate = self.config.rate
        self._burst = self.config.burst
        self._lock = threading.Lock()
        self._slots: dict[Hashable, _Slot] = {}
        # (full_at, seq, key): one entry per held key, filed at its first grant. A later grant only
        # moves the key's ``full_at`` on (never back), so an entry is a lower bound of its key's time;
        # ``_top`` files an outdated entry again at the key's time when it reaches the top.
        self._heap: list[tuple[float, int, Hashable]] = []
        self._seq = 0
        self.evicted_idle = self.evicted_busy = self.refused_full = 0

    # -- decisions ----------------------------------------------------------------------
    def _check(self, n: float) -> None:
        if not (n > 0 and n <= self._burst):
            raise ValueError(f"KeyedRateLimiter: n={n!r} must be in (0, burst={self.config.burst}]")

    def _refill(self, slot: _Slot, now: float) -> float:
        if now > slot.last:  # time that goes backwards adds nothing
            slot.tokens = min(self._burst, slot.tokens + (now - slot.last) * self._rate)
            slot.last = now
        return slot.tokens

    def try_acquire(self, key: Hashable, now: float, n: float = 1) -> bool:
        """Take ``n`` tokens from ``key``'s bucket if it holds them; otherwise count a refusal."""
        self._check(n)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                if len(self._slots) >= self.config.max_keys and not self._make_room(now):
                    self.refused_full += 1
                    granted = False
                else:  # a new key's bucket is full: the grant is certain (n <= burst)
                    slot = self._slots[key] = _Slot(self._burst - n, now)
                    slot.full_at = now + (self._burst - slot.tokens) / self._rate
                    heapq.heappush(self._heap, (slot.full_at, self._seq, key))
                    self._seq += 1
                    return True
            else:
                tokens = self._refill(slot, now)
                granted = tokens >= n
                if granted:
                    slot.tokens = tokens = tokens - n
                    slot.full_at = now + (self._burst - tokens) / self._rate
        if not granted:
            self.rejections.inc(_RATE_LIMITED)
        return granted

    def wait_time(self, key: Hashable, now: float, n: float = 1) -> float:
        """Seconds until ``key`` would hold ``n`` tokens (0 if now); takes nothing, adds no key."""
        self._check(n)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                return 0.0  # a fresh bucket is full
            tokens = self._refill(slot, now)
            return 0.0 if tokens >= n else (n - tokens) / self._rate

    def available(self, key: Hashable, now: float) -> float:
        """Tokens in ``key``'s bucket at ``now`` (``burst`` for a key not held); adds no key."""
        with self._lock:
            slot = self._slots.get(key)
            return self._burst if slot is None else self._refill(slot, now)

    # -- memory -------------------------------------------------------------------------
    def evict_idle(self, now: float) -> int:
        """Remove every key whose bucket is full at ``now``; returns how many."""
        with self._lock:
            gone = 0
            while self._pop_idle(now):
                gone += 1
            return gone

    def _top(self) -> tuple[Hashable, _Slot] | None:
        """The held key whose bucket fills soonest (outdated entries are filed again on the way)."""
        heap, slots = self._heap, self._slots
        while heap:
            full_at, _, key = heap[0]
            slot = slots[key]
            if slot.full_at == full_at:
                return key, slot
            heapq.heapreplace(heap, (slot.full_at, self._seq, key))
            self._seq += 1
        return None

    def _pop_idle(self, now: float) -> bool:
        """Evict one idle key if there is one."""
        while True:
            top = self._top()
            if top is None or top[1].full_at > now:
                return False
            key, slot = top
            left = self._burst - self._refill(slot, now)
            if left <= 0.0:
                heapq.heappop(self._heap)
                del self._slots[key]
                self.evicted_idle += 1
                return True
            # rounding put full_at a hair early: file it again at its true time
            slot.full_at = max(math.nextafter(now, math.inf), now + left / self._rate)
            heapq.heapreplace(self._heap, (slot.full_at, self._seq, key))
            self._seq += 1

    def _make_room(self, now: float) -> bool:
        """Free one place for a new key: an idle key, else by ``when_full``; False if refused."""
        if self._pop_idle(now):
            return True
        if self.config.when_full == "refuse":
            return False
        top = self._top()
        assert top is not None  # the table is full, so it holds a key
        heapq.heappop(self._heap)
        del self._slots[top[0]]
        self.evicted_busy += 1
        return True

    # -- inspection ---------------------------------------------------------------------
    def keys(self) -> list[Hashable]:
        """The keys now held."""
        with self._lock:
            return list(self._slots)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._slots

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def heap_size(self) -> int:
        """Entries in the eviction index (one per key held: ``len(self)``)."""
        with self._lock:
            return len(self._heap)
