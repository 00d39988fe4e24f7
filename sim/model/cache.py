"""A cache tier at run time: Zipf key draws, TTL lookups, stale-on-error, counters.

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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import numpy.typing as npt

from sim.scenario.stores import CacheConfig

__all__ = ["CacheRT", "Lookup", "ZipfKeys", "zipf_cdf", "zipf_pmf"]

Lookup = Literal["hit", "miss", "stale"]
BLOCK = 512


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


class CacheRT:
    """One cache (a replica of a cache tier): entries by fill time; ``hits``/``misses`` counted.

    ``misses`` counts every lookup that was not a hit (``stale`` ones among
    them, also counted in ``stale``); ``stale_served`` counts stale answers
    given as a fallback; ``fills`` counts fills.
    """

    __slots__ = (
        "_filled",
        "_keys",
        "_stale_limit",
        "_ttl",
        "cfg",
        "draw_key",
        "fills",
        "hits",
        "misses",
        "stale",
        "stale_served",
    )

    def __init__(self, cfg: CacheConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self._keys = ZipfKeys(cfg.keys, cfg.zipf_s, rng)
        self.draw_key: Callable[[], int] = self._keys.draw
        """A key drawn from the cache's popularity (Zipf over ``cfg.keys`` keys)."""
        self._ttl = cfg.ttl
        self._stale_limit = cfg.ttl + cfg.stale_for
        self._filled: dict[int, float] = {}
        self.hits = 0
        self.misses = 0
        self.stale = 0
        self.stale_served = 0
        self.fills = 0

    def __len__(self) -> int:
        """Keys ever filled (entries are kept; their number is at most ``cfg.keys``)."""
        return len(self._filled)

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
        }
