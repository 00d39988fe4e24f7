"""The cache's size limit (LRU), flushes and per-request keys, checked against references that do not
reuse the module's rules: exact eviction sequences, Mattson's stack-distance property, the exact hit
ratio of uniform popularity, Che's approximation, and a chi-square test of the request keys."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from resilience._config import ConfigError
from sim.model.cache import CacheRT, LruCacheRT, cache_rt, splitmix64
from sim.scenario.stores import CacheConfig

FOREVER = 1e12  # a TTL no test reaches: only the size limit evicts


def _lru(capacity: int, *, ttl: float = FOREVER, keys: int = 100, stale_for: float = 0.0) -> CacheRT:
    cfg = CacheConfig(ttl=ttl, keys=keys, zipf_s=0.0, stale_for=stale_for, capacity=capacity)
    return cache_rt(cfg, np.random.default_rng(0))


def test_capacity_selects_the_lru_cache() -> None:
    assert type(cache_rt(CacheConfig(), np.random.default_rng(0))) is CacheRT
    assert type(_lru(3)) is LruCacheRT


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache = _lru(3)
    for k in (0, 1, 2):
        cache.fill(k, 0.0)
    assert cache.lookup(0, 1.0) == "hit"  # 0 is now the most recent: 1 is the least
    cache.fill(3, 2.0)  # full: evicts 1
    assert len(cache) == 3 and cache.evictions == 1
    assert cache.lookup(1, 3.0) == "miss"
    assert [cache.lookup(k, 3.0) for k in (0, 2, 3)] == ["hit", "hit", "hit"]
    cache.fill(1, 4.0)  # recency now 0, 2, 3 (looked up in that order): 0 goes
    assert cache.lookup(0, 5.0) == "miss"
    assert cache.evictions == 2


def test_a_refill_makes_the_key_recent_without_evicting() -> None:
    cache = _lru(2)
    cache.fill(0, 0.0)
    cache.fill(1, 0.0)
    cache.fill(0, 1.0)  # already held: no eviction, 0 becomes the most recent
    assert cache.evictions == 0 and len(cache) == 2
    cache.fill(2, 2.0)  # evicts 1, not 0
    assert cache.lookup(0, 3.0) == "hit" and cache.lookup(1, 3.0) == "miss"


def test_stale_lookups_count_as_use_and_dead_entries_free_their_place() -> None:
    cache = _lru(2, ttl=10.0, stale_for=5.0)
    cache.fill(0, 0.0)
    cache.fill(1, 1.0)
    assert cache.lookup(0, 12.0) == "stale"  # expired, within stale_for: kept, now the most recent
    cache.fill(2, 12.0)  # evicts 1
    assert cache.lookup(1, 12.0) == "miss"
    assert cache.stale_fallback(0, 12.0)
    assert cache.lookup(0, 16.0) == "miss"  # past ttl + stale_for: dropped on lookup
    assert len(cache) == 1 and cache.evictions == 1


def test_flush_empties_the_cache() -> None:
    for cache in (CacheRT(CacheConfig(ttl=30.0, keys=10), np.random.default_rng(0)), _lru(5)):
        for k in range(4):
            cache.fill(k, 0.0)
        cache.flush()
        assert len(cache) == 0 and cache.flushes == 1
        assert [cache.lookup(k, 1.0) for k in range(4)] == ["miss"] * 4
        assert not cache.stale_fallback(0, 1.0)
        cache.fill(2, 2.0)
        assert cache.lookup(2, 3.0) == "hit"


def _requests(keys: int, s: float, rate: float, n: int, seed: int) -> tuple[list[float], list[int]]:
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1.0 / rate, size=n)).tolist()
    pmf = np.arange(1, keys + 1, dtype=float) ** -s
    draws = rng.choice(keys, size=n, p=pmf / pmf.sum()).tolist()
    return times, draws


def _drive(cache: CacheRT, times: list[float], draws: list[int]) -> list[bool]:
    """Each request looks its key up and, on a miss, fills it at once; True for a hit."""
    out = []
    for now, key in zip(times, draws, strict=True):
        hit = cache.lookup(key, now) == "hit"
        if not hit:
            cache.fill(key, now)
        out.append(hit)
    return out


def _stack_distance_reference(times: list[float], draws: list[int], capacity: int, ttl: float) -> list[bool]:
    """Mattson et al. (1970): under LRU a key is held iff fewer than ``capacity`` other keys were asked
    since it was last asked (every request makes its key the most recent); a held key hits while its
    last fill (its last miss) is younger than ``ttl``. Written from that property, not the eviction."""
    last: dict[int, int] = {}
    filled: dict[int, float] = {}
    out = []
    for i, (now, key) in enumerate(zip(times, draws, strict=True)):
        j = last.get(key)
        held = j is not None and len(set(draws[j + 1 : i]) - {key}) < capacity
        hit = held and now - filled[key] < ttl
        if not hit:
            filled[key] = now
        last[key] = i
        out.append(hit)
    return out


@pytest.mark.parametrize(("s", "ttl"), [(1.0, FOREVER), (0.7, 2.0), (0.0, 0.5)])
def test_every_lookup_agrees_with_the_stack_distance_property(s: float, ttl: float) -> None:
    times, draws = _requests(keys=40, s=s, rate=20.0, n=4000, seed=3)
    got = _drive(_lru(10, ttl=ttl, keys=40), times, draws)
    assert got == _stack_distance_reference(times, draws, 10, ttl)
    # negative control: the property is sharp enough to tell a cache one entry larger
    assert _drive(_lru(11, ttl=ttl, keys=40), times, draws) != got


def test_a_limit_above_the_key_space_changes_nothing() -> None:
    times, draws = _requests(keys=50, s=1.0, rate=50.0, n=5000, seed=5)
    cfg = CacheConfig(ttl=0.8, keys=50, zipf_s=1.0, stale_for=0.3)
    plain = CacheRT(cfg, np.random.default_rng(1))
    limited = cache_rt(
        CacheConfig(ttl=0.8, keys=50, zipf_s=1.0, stale_for=0.3, capacity=50), np.random.default_rng(1)
    )
    assert _drive(plain, times, draws) == _drive(limited, times, draws)
    assert {k: v for k, v in limited.counters().items() if k != "evictions"} == plain.counters()
    assert limited.counters()["evictions"] == 0


def _hit_ratio_and_sd(hits: list[bool]) -> tuple[float, float]:
    """The hit ratio after the first tenth (the cache warm), and its standard error from 40 batch means."""
    warm = np.array(hits[len(hits) // 10 :], dtype=float)
    batches = np.array([b.mean() for b in np.array_split(warm, 40)])
    return float(warm.mean()), float(batches.std(ddof=1) / math.sqrt(len(batches)))


def test_uniform_popularity_hits_capacity_over_keys() -> None:
    # Under independent requests with equal popularity every set of `capacity` keys is equally
    # likely to be held, so a request hits with probability capacity / keys exactly (the peer's
    # cache-stampede: 80 of 100 keys).
    times, draws = _requests(keys=100, s=0.0, rate=100.0, n=60_000, seed=7)
    ratio, sd = _hit_ratio_and_sd(_drive(_lru(80), times, draws))
    assert abs(ratio - 0.8) < 5 * sd + 0.002, (ratio, sd)


def _solve(f: object, target: float) -> float:
    lo, hi = 0.0, 1e12
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) < target:  # type: ignore[operator]
            lo = mid
        else:
            hi = mid
    return lo


def test_zipf_hit_ratio_follows_ches_approximation() -> None:
    # Che, Tung & Wang (2002): an LRU cache of C entries holds key i with probability
    # 1 - exp(-p_i T), T the characteristic time solving sum_i (1 - exp(-p_i T)) = C.
    keys, s, capacity = 500, 0.8, 50
    pmf = np.arange(1, keys + 1, dtype=float) ** -s
    p = pmf / pmf.sum()
    t_lru = _solve(lambda t: float(np.sum(1 - np.exp(-p * t))), capacity)
    che = float(np.sum(p * (1 - np.exp(-p * t_lru))))
    times, draws = _requests(keys=keys, s=s, rate=1000.0, n=150_000, seed=9)
    ratio, sd = _hit_ratio_and_sd(_drive(_lru(capacity, keys=keys), times, draws))
    tolerance = 5 * sd + 0.005  # the approximation's own error, under 0.5% at this size
    assert abs(ratio - che) < tolerance, (ratio, che, tolerance)
    # negative controls: FIFO (no move on a hit; key i held with probability p_i T / (1 + p_i T))
    # and the best static choice (the C most popular keys)
    t_fifo = _solve(lambda t: float(np.sum(p * t / (1 + p * t))), capacity)
    fifo = float(np.sum(p * (p * t_fifo / (1 + p * t_fifo))))
    best = float(np.sort(p)[::-1][:capacity].sum())
    assert abs(ratio - fifo) > 3 * tolerance and abs(ratio - best) > 3 * tolerance


class _Trace:
    def __init__(self, tid: int) -> None:
        self.tid = tid


def test_request_keys_are_per_request_and_zipf_distributed() -> None:
    cfg = CacheConfig(keys=40, zipf_s=0.9, key_per="request")
    a = CacheRT(cfg, np.random.default_rng(1), salt=12345)
    b = CacheRT(cfg, np.random.default_rng(2), salt=12345)  # another replica of the same tier
    other = CacheRT(cfg, np.random.default_rng(1), salt=999)
    assert a.by_request and not CacheRT(CacheConfig(), np.random.default_rng(0)).by_request
    n = 60_000
    keys = [a.request_key(_Trace(t)) for t in range(n)]
    assert keys == [a.request_key(_Trace(t)) for t in range(n)]  # every attempt asks the same key
    assert keys == [b.request_key(_Trace(t)) for t in range(n)]  # at every replica
    assert keys != [other.request_key(_Trace(t)) for t in range(n)]
    assert min(keys) >= 0 and max(keys) < 40
    pmf = np.arange(1, 41, dtype=float) ** -0.9
    pmf /= pmf.sum()
    observed = np.bincount(keys, minlength=40)
    assert stats.chisquare(observed, n * pmf).pvalue > 1e-3
    # consecutive requests are independent: no correlation between neighbours' keys
    assert abs(stats.spearmanr(keys[:-1], keys[1:]).statistic) < 0.02


def test_splitmix64_reference_values() -> None:
    # SplitMix64 seeded with 1234567: the first outputs of Vigna's reference C implementation
    # (prng.di.unimi.it/splitmix64.c)
    assert [splitmix64(1234567, i) for i in range(3)] == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "CacheConfig.capacity=0: must be in 1..10000000"),
        ({"capacity": 10_000_001}, "CacheConfig.capacity=10000001: must be in 1..10000000"),
        ({"key_per": "trace"}, "CacheConfig.key_per='trace': must be arrival or request"),
        ({"fill_late": 1}, "CacheConfig.fill_late=1: must be true or false"),
    ],
)
def test_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        CacheConfig(**kwargs)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_config_defaults_keep_the_plain_cache() -> None:
    cfg = CacheConfig()
    assert (cfg.capacity, cfg.key_per, cfg.fill_late) == (None, "arrival", False)
    full = CacheConfig(
        ttl=5.0, keys=100, zipf_s=0.0, stale_for=0.0, key_per="request", capacity=80, fill_late=True
    )
    assert CacheConfig.from_dict(full.to_dict()) == full
