"""The cache tier: TTL hit ratio against renewal theory, stale-on-error window, Zipf draws, config errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from resilience._config import ConfigError
from sim.model.cache import CacheRT, ZipfKeys
from sim.scenario.stores import CacheConfig


def _zipf_pmf(keys: int, s: float) -> np.ndarray:
    """Zipf's law written out here (independently of the module): p_i = (i+1)^-s / H(keys, s)."""
    h = sum((i + 1) ** -s for i in range(keys))
    return np.array([(i + 1) ** -s / h for i in range(keys)])


def _run_poisson(cache: CacheRT, rate: float, horizon: float, rng: np.random.Generator) -> int:
    """Poisson requests at ``rate`` for ``horizon`` s; each draws a key, fills at once on a miss."""
    gaps = rng.exponential(1.0 / rate, size=int(rate * horizon * 1.2) + 1000)
    times = np.cumsum(gaps)
    times = times[times < horizon]
    assert len(times) < len(gaps)  # the horizon, not the draw, ended the stream
    for now in times.tolist():
        key = cache.draw_key()
        if cache.lookup(key, now) != "hit":
            cache.fill(key, now)
    return len(times)


def _expected_misses(lam: np.ndarray, ttl: float, horizon: float) -> np.ndarray:
    """Exact mean number of misses in [0, horizon] per key, cache empty at 0.

    Misses are renewal points: the first at X0 ~ Exp(lam); each later one comes
    ttl + Exp(lam) after the previous, so the n-th miss is at
    (n - 1) * ttl + Gamma(n, 1/lam), and E[misses] = sum_n P(that <= horizon).
    """
    n = np.arange(1, int(horizon / ttl) + 2)[:, None]
    room = horizon - (n - 1) * ttl
    probs = np.where(room > 0, stats.gamma.cdf(np.maximum(room, 0.0), a=n, scale=1.0 / lam[None, :]), 0.0)
    return np.asarray(probs.sum(axis=0))


def _hit_ratio_sd(lam: np.ndarray, ttl: float, horizon: float, h: float, total: float) -> float:
    """Standard deviation of the aggregate hit ratio H/N (delta method, renewal-reward CLT per key).

    Per key and cycle: hits R ~ Poisson(lam*ttl), length C = ttl + Exp(lam),
    requests R + 1. The centred reward R' = (1-h) R - h has rate r' = E[R']/E[C]
    and, over a horizon D, variance D * Var(R' - r' C) / E[C]; keys are
    independent (Poisson splitting). Var(H/N) ~ Var(H - h N) / E[N]^2.
    """
    mean_c = ttl + 1.0 / lam
    mean_r = lam * ttl
    r_rate = ((1 - h) * mean_r - h) / mean_c
    var_cycle = (1 - h) ** 2 * mean_r + r_rate**2 / lam**2
    return float(math.sqrt(float(np.sum(horizon * var_cycle / mean_c))) / total)


def test_aggregate_hit_ratio_matches_renewal_theory() -> None:
    keys, s, ttl, rate, horizon = 1000, 1.0, 0.05, 10_000.0, 10.0
    cache = CacheRT(CacheConfig(ttl=ttl, keys=keys, zipf_s=s, stale_for=0.0), np.random.default_rng(11))
    n = _run_poisson(cache, rate, horizon, np.random.default_rng(12))
    assert cache.hits + cache.misses == n
    lam = rate * _zipf_pmf(keys, s)
    expected_hits = lam * horizon - _expected_misses(lam, ttl, horizon)
    expected = float(expected_hits.sum() / (rate * horizon))
    sd = _hit_ratio_sd(lam, ttl, horizon, expected, rate * horizon)
    tolerance = 4.5 * sd + 1.0 / n  # plus the ratio-of-means bias, O(1/N)
    measured = cache.hit_ratio
    assert abs(measured - expected) < tolerance, (measured, expected, tolerance)
    # the long-run formula lam*T/(1+lam*T) per key is close (the empty start costs one miss per key)
    stationary = float(np.sum(lam * (lam * ttl / (1 + lam * ttl))) / rate)
    assert abs(measured - stationary) < tolerance + keys / n
    # the test tells semantics apart: a TTL reset on every hit would give 1 - exp(-lam*T) per key
    reset_on_hit = float(np.sum(lam * (1 - np.exp(-lam * ttl))) / rate)
    assert abs(reset_on_hit - measured) > 3 * tolerance


def test_single_key_hit_ratio_is_lam_t_over_one_plus_lam_t() -> None:
    ttl, rate, horizon = 0.2, 10.0, 2_000.0  # lam * T = 2: theory 2/3
    cache = CacheRT(CacheConfig(ttl=ttl, keys=1, zipf_s=0.0), np.random.default_rng(3))
    n = _run_poisson(cache, rate, horizon, np.random.default_rng(4))
    lam = np.array([rate])
    theory = rate * ttl / (1 + rate * ttl)
    tolerance = 4.5 * _hit_ratio_sd(lam, ttl, horizon, theory, n) + (rate * ttl + 1) / n
    assert abs(cache.hit_ratio - theory) < tolerance, (cache.hit_ratio, theory, tolerance)
    assert cache.fills == cache.misses


def test_stale_only_within_stale_for() -> None:
    cache = CacheRT(CacheConfig(ttl=10.0, keys=5, stale_for=20.0), np.random.default_rng(0))
    assert cache.lookup(3, 0.0) == "miss"
    assert not cache.stale_fallback(3, 0.0)  # never filled: nothing to serve
    cache.fill(3, 1.0)
    assert cache.lookup(3, 10.999) == "hit"
    assert cache.lookup(3, 11.0) == "stale"  # expired at fill + ttl
    assert cache.lookup(3, 30.999) == "stale"
    assert cache.stale_fallback(3, 30.999)
    assert cache.lookup(3, 31.0) == "miss"  # beyond ttl + stale_for
    assert not cache.stale_fallback(3, 31.0)
    assert cache.lookup(4, 5.0) == "miss"  # other keys untouched
    assert (cache.hits, cache.misses, cache.stale, cache.stale_served) == (1, 5, 2, 1)
    cache.fill(3, 40.0)  # a refill starts a fresh life
    assert cache.lookup(3, 49.0) == "hit"


def test_no_stale_window_means_no_stale_answers() -> None:
    cache = CacheRT(CacheConfig(ttl=1.0, keys=2, stale_for=0.0), np.random.default_rng(0))
    cache.fill(0, 0.0)
    assert cache.lookup(0, 0.5) == "hit"
    assert cache.lookup(0, 1.0) == "miss"
    assert not cache.stale_fallback(0, 1.0)
    assert cache.stale_served == 0 and cache.stale == 0


@pytest.mark.parametrize("s", [0.0, 0.8, 1.2])
def test_zipf_draws_follow_the_pmf(s: float) -> None:
    keys, n = 40, 60_000
    sampler = ZipfKeys(keys, s, np.random.default_rng(21))
    draws = np.array([sampler.draw() for _ in range(n)])
    assert draws.min() >= 0 and draws.max() < keys
    observed = np.bincount(draws, minlength=keys)
    pmf = _zipf_pmf(keys, s)
    assert stats.chisquare(observed, n * pmf).pvalue > 1e-3
    # negative control: the same draws are far from a neighbouring exponent
    other = _zipf_pmf(keys, s + 0.15)
    assert stats.chisquare(observed, n * other).pvalue < 1e-6


def test_cache_draws_use_the_rng_passed_in() -> None:
    cfg = CacheConfig(keys=1000, zipf_s=1.0)
    a = CacheRT(cfg, np.random.default_rng(5))
    b = CacheRT(cfg, np.random.default_rng(5))
    c = CacheRT(cfg, np.random.default_rng(6))
    seq_a = [a.draw_key() for _ in range(2000)]
    assert seq_a == [b.draw_key() for _ in range(2000)]
    assert seq_a != [c.draw_key() for _ in range(2000)]


def test_same_seed_same_counters() -> None:
    def counters(seed: int) -> dict[str, int]:
        cache = CacheRT(CacheConfig(ttl=0.1, keys=500), np.random.default_rng(seed))
        _run_poisson(cache, 2_000.0, 2.0, np.random.default_rng(seed + 100))
        return cache.counters()

    assert counters(1) == counters(1)
    assert counters(1) != counters(2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": 0.0}, "CacheConfig.ttl=0.0: must be > 0 and finite"),
        ({"ttl": math.inf}, "CacheConfig.ttl=inf: must be > 0 and finite"),
        ({"keys": 0}, "CacheConfig.keys=0: must be in 1..10000000"),
        ({"keys": 10_000_001}, "CacheConfig.keys=10000001: must be in 1..10000000"),
        ({"zipf_s": -0.5}, "CacheConfig.zipf_s=-0.5: must be in [0, 10]"),
        ({"stale_for": -1.0}, "CacheConfig.stale_for=-1.0: must be >= 0 and finite"),
        ({"keys": 2.5}, "CacheConfig.keys=2.5: must be an integer"),
    ],
)
def test_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        CacheConfig(**kwargs)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_config_round_trips_and_rejects_unknown_fields() -> None:
    cfg = CacheConfig(ttl=30.0, keys=100_000, zipf_s=1.0, stale_for=300.0)
    assert CacheConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match=r"CacheConfig\.size=10: unknown field"):
        CacheConfig.from_dict({"size": 10})


def test_delayed_fill_hit_ratio() -> None:
    """Each miss fills ``d`` later (the backend's answer); misses in the gap refill and extend life.

    Per cycle: 1 + lam*d misses (the first and those in the gap) and lam*(T + a) hits, a being
    the mean time of the last gap arrival, d - (1 - exp(-lam*d))/lam.
    """
    ttl, rate, horizon, delay = 0.2, 10.0, 2_000.0, 0.08
    cache = CacheRT(CacheConfig(ttl=ttl, keys=1, zipf_s=0.0), np.random.default_rng(7))
    rng = np.random.default_rng(8)
    times = np.cumsum(rng.exponential(1.0 / rate, size=int(rate * horizon * 1.2)))
    times = times[times < horizon]
    pending: list[float] = []  # fill times, in order (constant delay keeps them sorted)
    hit: list[bool] = []
    for now in times.tolist():
        while pending and pending[0] <= now:
            cache.fill(0, pending.pop(0))
        hit.append(cache.lookup(0, now) == "hit")
        if not hit[-1]:
            pending.append(now + delay)
    lam = rate
    a = delay - (1 - math.exp(-lam * delay)) / lam
    hits, misses = lam * (ttl + a), 1 + lam * delay
    theory = hits / (hits + misses)
    n = len(times)
    # requests of one cycle are correlated: the standard error comes from 40 contiguous batch means
    batches = np.array([b.mean() for b in np.array_split(np.array(hit, dtype=float), 40)])
    sd = float(batches.std(ddof=1) / math.sqrt(len(batches)))
    tolerance = 5 * sd + (hits + misses) / n
    assert abs(cache.hit_ratio - theory) < tolerance, (cache.hit_ratio, theory, tolerance)
    # the formula is sharp enough to reject neighbours: the zero-delay one, and a gap of misses
    # without the life extension, lam*T / (1 + lam*(T + d))
    assert abs(cache.hit_ratio - lam * ttl / (1 + lam * ttl)) > tolerance
    assert abs(cache.hit_ratio - lam * ttl / (1 + lam * (ttl + delay))) > tolerance
