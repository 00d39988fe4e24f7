"""Configs of the stores a tier may keep: a TTL cache, a side-effect ledger, a compensation queue.

* :class:`CacheConfig`: a cache tier answers from memory while an entry is
  fresh (``ttl`` seconds after it was filled), asks its backend on a miss, and
  may serve an expired entry for ``stale_for`` more seconds as a fallback when
  the backend fails (stale-on-error). Requests ask for one of ``keys`` keys with
  Zipf popularity ``zipf_s`` (0: uniform), drawn on each arrival or, with
  ``key_per = "request"``, once per client request. With ``capacity`` it holds at
  most that many entries and evicts the least recently used; with ``fill_late`` a
  backend answer that comes after the tier stopped waiting for it still fills the
  entry.
* :class:`SideEffectsConfig`: an endpoint with side effects (a payment, a
  stock decrement) counts how often each request's effect happened; with
  idempotency keys a real :class:`resilience.idempotency.IdempotencyStore`
  (configured by ``idempotency``) refuses duplicates.
* :class:`CompensationConfig`: an asynchronous compensation queue that
  accepts work on a fallback, holds at most ``capacity`` items and drains
  ``rate`` items per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from resilience._config import Config, non_negative, positive, rule
from resilience.idempotency import IdempotencyConfig

__all__ = ["MAX_CACHE_KEYS", "CacheConfig", "CompensationConfig", "SideEffectsConfig"]

MAX_CACHE_KEYS = 10_000_000
"""The largest key space of a cache (its popularity CDF is one float per key)."""

_POSITIVE = rule(positive, "must be > 0 and finite")
_KEY_STORE = IdempotencyConfig(ttl=600.0, pending_ttl=60.0, retry_after=0.1)


@dataclass(frozen=True, slots=True)
class CacheConfig(Config):
    """A TTL cache: fresh for ``ttl`` s after a fill, then usable on error for ``stale_for`` s.

    ``keys``: the size of the key space; ``zipf_s``: the Zipf exponent of key
    popularity (key ``i`` is asked with probability proportional to
    ``1 / (i + 1) ** zipf_s``; 0 is uniform). ``key_per``: ``"arrival"`` (the
    default) draws a key for every request reaching the tier, a retry
    included; ``"request"`` gives each client request one key, asked by all
    its attempts (and by every call of its tree that reaches the tier).
    ``capacity``: at most this many entries, the least recently used (hit,
    stale lookup or fill) evicted to make room for a new one; None (the
    default) keeps every key. ``fill_late``: an answer of the backend that
    arrives after the tier's call timed out (the tier stopped waiting, its
    caller was answered) still fills the entry, as it arrives; off by default
    (a late answer is dropped).
    """

    ttl: float = field(default=30.0, metadata=_POSITIVE)
    keys: int = field(
        default=100_000,
        metadata=rule(lambda v: 1 <= v <= MAX_CACHE_KEYS, f"must be in 1..{MAX_CACHE_KEYS}"),
    )
    zipf_s: float = field(
        default=1.0, metadata=rule(lambda v: math.isfinite(v) and 0 <= v <= 10, "must be in [0, 10]")
    )
    stale_for: float = field(default=300.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    key_per: str = field(
        default="arrival",
        metadata=rule(lambda v: v in ("arrival", "request"), "must be arrival or request"),
    )
    capacity: int | None = field(
        default=None,
        metadata=rule(lambda v: 1 <= v <= MAX_CACHE_KEYS, f"must be in 1..{MAX_CACHE_KEYS}"),
    )
    fill_late: bool = False


@dataclass(frozen=True, slots=True)
class SideEffectsConfig(Config):
    """An endpoint's side-effect ledger.

    ``remember``: how long (s) the ledger remembers that a request's effect
    happened, to count a later one as a duplicate; keep it above the longest
    request lifetime (deadline plus retries). ``idempotency``: the key store
    used when callers send idempotency keys (its ``pending_ttl`` should exceed
    the longest execution, or a retry after it executes again).
    """

    remember: float = field(default=600.0, metadata=_POSITIVE)
    idempotency: IdempotencyConfig = _KEY_STORE


@dataclass(frozen=True, slots=True)
class CompensationConfig(Config):
    """An async compensation queue: at most ``capacity`` items waiting, drained ``rate`` per second.

    An item offered to a full queue is dropped (counted, never processed).
    """

    rate: float = field(default=100.0, metadata=_POSITIVE)
    capacity: int = field(
        default=10_000, metadata=rule(lambda v: 1 <= v <= 1_000_000_000, "must be in 1..1000000000")
    )
