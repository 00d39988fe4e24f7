"""A cache tier at run time: Zipf key draws, TTL lookups, stale-on-error, an LRU size limit, counters.

Semantics (what the hit-ratio formula below rests on): ``fill(key, t)`` makes
the entry fresh on ``[t, t + ttl)``; a lookup then answers ``"hit"``. A lookup
on ``[t + ttl, t + ttl + stale_for)`` answers ``"stale"`` (a miss that goes to
the backend, whose stored answer may still be served by
:meth:`CacheRT.stale_fallback` if the backend fails); later, or for a key never
filled, ``"miss"``. Hits do not extend the entry's life; the caller fills on a
miss when the backend answers.

Hit ratio under Poisson requests (rate ``lam`` for one key, fill at the miss):
misses are renewal points, a cycle lasts ``ttl`` plus an exponential wait
(mean ``1 / lam``) for the first request after expiry, and holds on average
``lam * ttl`` hits and one miss, so by the renewal-reward theorem the hit
ratio is ``lam * ttl / (1 + lam * ttl)`` (Jung, Berger & Balakrishnan,
"Modeling TTL-based Internet caches", INFOCOM 2003). When each miss fills
``d`` seconds later (the backend's answer), the requests in between miss too
and the last of them restarts the entry's life: with ``a = d - (1 - exp(-lam * d)) / lam``
(the mean time of the last miss in the gap), a cycle holds ``1 + lam * d``
misses and ``lam * (ttl + a)`` hits.

With ``key_per = "request"`` the key is the client request's, not drawn per
arrival: :meth:`CacheRT.request_key` maps the request's trace id through
SplitMix64 (seeded by the tier's ``salt``) to a uniform, and that through the
Zipf CDF, so every attempt of a request, at any replica, asks for the same key.

With ``capacity`` (:class:`LruCacheRT`, made by :func:`cache_rt`) at most that
many entries are held: a fill of a new key when the cache is full first evicts
the least recently used entry (hits, stale lookups and fills are uses); a
lookup that finds an entry past ``ttl + stale_for`` drops it. ``flush()``
empties a cache (the ``cache_flush`` fault).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from sim.scenario.stores import CacheConfig

__all__ = [
    "CacheRT",
    "Lookup",
    "LruCacheRT",
    "ZipfKeys",
    "cache_rt",
    "splitmix64",
    "zipf_cdf",
    "zipf_pmf",
]

Lookup = Literal["hit", "miss", "stale"]
BLOCK: Final = 512
_MASK64: Final = (1 << 64) - 1
_GOLDEN64: Final = 0x9E3779B97F4A7C15  # SplitMix64's increment


def zipf_pmf(keys: int, s: float) -> npt.NDArray[np.float64]:
    """The probability of each key ``0..keys-1``: proportional to ``1 / (i + 1) ** s``."""
    weights = np.arange(1, keys + 1, dtype=np.float64) ** -s
    pmf: npt.NDArray[np.float64] = weights / weights.sum()
    return pmf


@functools.lru_cache(maxsize=8)
def zipf_cdf(keys: int, s: float) -> npt.NDArray[np.float64]:
    """The cumulative popularity (read-only, shared between caches), last value exactly 1."""
    cdf = np.cumsum(zipf_pmf(keys, s))
    cdf[-1] = 1.0  # a uniform draw in [0, 1) always lands on a key
    cdf.flags.writeable = False
    return cdf


class ZipfKeys:
    """Draws keys ``0..keys-1`` with Zipf popularity from ``rng``, a block of uniforms at a time.

    ``draw()`` is the bound ``__next__`` of an iterator over the blocks.
    """

    __slots__ = ("draw", "keys", "s")

    def __init__(self, keys: int, s: float, rng: np.random.Generator) -> None:
        self.keys = keys
        self.s = s
        self.draw: Callable[[], int] = _blocks(zipf_cdf(keys, s), rng).__next__


def _blocks(cdf: npt.NDArray[np.float64], rng: np.random.Generator) -> Iterator[int]:
    while True:
        yield from np.searchsorted(cdf, rng.random(BLOCK), side="right").tolist()


def splitmix64(seed: int, i: int) -> int:
    """The ``i``-th output of SplitMix64 started at ``seed`` (Steele, Lea & Flood, OOPSLA 2014): a
    64-bit integer, as if drawn at random for each ``i``."""
    z = (seed + (i + 1) * _GOLDEN64) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class CacheRT:
    """One cache (a replica of a cache tier): entries by fill time; ``hits``/``misses`` counted.

    ``misses`` counts every lookup that was not a hit (``stale`` ones among
    them, also counted in ``stale``); ``stale_served`` counts stale answers
    given as a fallback; ``fills`` counts fills (``late_fills`` those made by an answer
    that came after the tier stopped waiting); ``flushes`` counts flushes.
    """

    __slots__ = (
        "_cdf",
        "_filled",
        "_keys",
        "_salt",
        "_stale_limit",
        "_ttl",
        "by_request",
        "cfg",
        "draw_key",
        "fills",
        "flushes",
        "hits",
        "late_fills",
        "misses",
        "stale",
        "stale_served",
    )

    def __init__(self, cfg: CacheConfig, rng: np.random.Generator, salt: int = 0) -> None:
        """``rng``: the replica's key draws; ``salt``: the tier's seed of request keys (the same at
        every replica of the tier)."""
        self.cfg = cfg
        self._keys = ZipfKeys(cfg.keys, cfg.zipf_s, rng)
        self.draw_key: Callable[[], int] = self._keys.draw
        """A key drawn from the cache's popularity (Zipf over ``cfg.keys`` keys)."""
        self.by_request = cfg.key_per == "request"
        self._cdf = zipf_cdf(cfg.keys, cfg.zipf_s)
        self._salt = salt
        self._ttl = cfg.ttl
        self._stale_limit = cfg.ttl + cfg.stale_for
        self._filled: dict[int, float] = {}
        self.hits = 0
        self.misses = 0
        self.stale = 0
        self.stale_served = 0
        self.fills = 0
        self.late_fills = 0
        self.flushes = 0

    def __len__(self) -> int:
        """Entries held: keys filled since the last flush (kept; at most ``cfg.keys`` of them)."""
        return len(self._filled)

    def request_key(self, trace: Any) -> int:
        """The key of the client request whose call tree ``trace`` is (its ``tid``): Zipf-distributed
        over requests, the same for each of its attempts."""
        u = (splitmix64(self._salt, trace.tid) >> 11) * 2.0**-53  # uniform in [0, 1)
        return int(np.searchsorted(self._cdf, u, side="right"))

    def lookup(self, key: int, now: float) -> Lookup:
        """``"hit"`` (fresh), ``"stale"`` (expired, within ``stale_for``) or ``"miss"``."""
        filled = self._filled.get(key)
        if filled is not None:
            age = now - filled
            if age < self._ttl:
                self.hits += 1
                return "hit"
            self.misses += 1
            if age < self._stale_limit:
                self.stale += 1
                return "stale"
            return "miss"
        self.misses += 1
        return "miss"

    def fill(self, key: int, now: float) -> None:
        """The backend answered for ``key`` at ``now``: fresh for ``ttl`` from now."""
        self._filled[key] = now
        self.fills += 1

    def late_fill(self, key: int, now: float) -> None:
        """An answer for ``key`` came after the tier stopped waiting for it: it fills (counted)."""
        self.fill(key, now)
        self.late_fills += 1

    def stale_fallback(self, key: int, now: float) -> bool:
        """Serve the stored answer because the backend failed: True (counted) if one is usable now.

        Usable: filled less than ``ttl + stale_for`` seconds ago (a fresh entry,
        filled meanwhile by another request, is usable too).
        """
        filled = self._filled.get(key)
        if filled is None or now - filled >= self._stale_limit:
            return False
        self.stale_served += 1
        return True

    def flush(self) -> None:
        """Drop every entry (counted): each key misses until it is filled again."""
        self._filled.clear()
        self.flushes += 1

    @property
    def hit_ratio(self) -> float:
        """Hits over lookups (0.0 before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def counters(self) -> dict[str, int]:
        """The counters as plain data for results."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "stale": self.stale,
            "stale_served": self.stale_served,
            "fills": self.fills,
            "late_fills": self.late_fills,
            "flushes": self.flushes,
        }


class LruCacheRT(CacheRT):
    """A :class:`CacheRT` holding at most ``cfg.capacity`` entries, least recently used evicted first.

    Entries are kept in use order (least recent first). A hit or a stale lookup
    moves the entry to the recent end, and so does a fill; a fill of a new key
    into a full cache first evicts the least recent entry (``evictions``). A
    lookup that finds an entry past ``ttl + stale_for`` drops it: an expired
    entry holds its place until it is looked up or evicted.
    """

    __slots__ = ("_lru", "capacity", "evictions")

    def __init__(self, cfg: CacheConfig, rng: np.random.Generator, salt: int = 0) -> None:
        super().__init__(cfg, rng, salt)
        assert cfg.capacity is not None
        self.capacity: int = cfg.capacity
        self._lru: OrderedDict[int, float] = OrderedDict()
        self._filled = self._lru  # the base class's reads (``stale_fallback``, ``len``) see it
        self.evictions = 0

    def lookup(self, key: int, now: float) -> Lookup:
        """As :meth:`CacheRT.lookup`; the entry becomes the most recent, or is dropped if past use."""
        lru = self._lru
        filled = lru.get(key)
        if filled is not None:
            age = now - filled
            if age < self._ttl:
                self.hits += 1
                lru.move_to_end(key)
                return "hit"
            self.misses += 1
            if age < self._stale_limit:
                self.stale += 1
                lru.move_to_end(key)
                return "stale"
            del lru[key]
            return "miss"
        self.misses += 1
        return "miss"

    def fill(self, key: int, now: float) -> None:
        """As :meth:`CacheRT.fill`; a new key in a full cache first evicts the least recent entry."""
        lru = self._lru
        if key in lru:
            lru.move_to_end(key)
        elif len(lru) >= self.capacity:
            lru.popitem(last=False)
            self.evictions += 1
        lru[key] = now
        self.fills += 1

    def counters(self) -> dict[str, int]:
        """The counters as plain data for results, ``evictions`` included."""
        return {**super().counters(), "evictions": self.evictions}


def cache_rt(cfg: CacheConfig, rng: np.random.Generator, salt: int = 0) -> CacheRT:
    """The run-time cache for ``cfg``: an :class:`LruCacheRT` when it has a ``capacity``."""
    return CacheRT(cfg, rng, salt) if cfg.capacity is None else LruCacheRT(cfg, rng, salt)
