"""The keyed (per-IP) rate limiter: isolation, refill, bounded memory, idle eviction that changes no
decision (against independent per-key buckets), the policy on a table of busy keys, thread safety."""

from __future__ import annotations

import random
import time
import tracemalloc
from collections import Counter

import pytest
from concurrency import hammer, swap_lock

import resilience
from resilience._config import ConfigError
from resilience.admission import (
    KeyedRateLimiter,
    KeyedRateLimiterConfig,
    TokenBucketConfig,
    TokenBucketRateLimiter,
    keyed,
)
from resilience.metrics.counters import Counters


def limiter(
    rate: float = 2.0, burst: float = 3.0, max_keys: int = 1000, when_full: str = "evict_fullest"
) -> KeyedRateLimiter:
    return KeyedRateLimiter(
        KeyedRateLimiterConfig(rate=rate, burst=burst, max_keys=max_keys, when_full=when_full)
    )


class Reference:
    """An unbounded keyed limiter: an independent ``TokenBucketRateLimiter`` per key, never evicted."""

    def __init__(self, rate: float, burst: float) -> None:
        self.config = TokenBucketConfig(rate=rate, burst=burst)
        self.buckets: dict[str, TokenBucketRateLimiter] = {}

    def try_acquire(self, key: str, now: float, n: float = 1) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucketRateLimiter(self.config)
        return bucket.try_acquire(now, n)


# -- behaviour ----------------------------------------------------------------------------
def test_each_key_has_its_own_bucket() -> None:
    rl = limiter()
    assert [rl.try_acquire("10.0.0.1", 0.0) for _ in range(4)] == [True, True, True, False]
    # another key is untouched by the first one's drained bucket
    assert [rl.try_acquire("10.0.0.2", 0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.available("10.0.0.1", 0.0) == 0.0
    assert rl.available("10.0.0.3", 0.0) == 3.0  # a key not held reads as a full bucket ...
    assert "10.0.0.3" not in rl and len(rl) == 2  # ... and is not added by reading
    assert rl.rejections.snapshot() == {"rate_limited": 2}


def test_buckets_refill_at_rate_up_to_burst() -> None:
    rl = limiter(rate=2.0, burst=3.0)
    for _ in range(3):
        assert rl.try_acquire("a", 0.0)
    assert rl.wait_time("a", 0.0) == pytest.approx(0.5)
    assert rl.wait_time("b", 0.0) == 0.0
    assert not rl.try_acquire("a", 0.25)
    assert rl.try_acquire("a", 0.5)
    assert rl.available("a", 100.0) == 3.0  # capped at burst
    assert rl.try_acquire("a", 100.0, n=3)
    with pytest.raises(ValueError, match=r"n=4 must be in \(0, burst=3.0\]"):
        rl.try_acquire("a", 100.0, n=4)


def test_refusals_reach_the_sink_under_the_limiter_name() -> None:
    sink = Counters()
    rl = KeyedRateLimiter(KeyedRateLimiterConfig(rate=1.0, burst=1.0), name="l7", sink=sink)
    assert rl.try_acquire("ip", 0.0) and not rl.try_acquire("ip", 0.0) and not rl.try_acquire("ip", 0.5)
    assert sink.value("resilience_admission_rejections_total", name="l7", cause="rate_limited") == 2


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("rate", 0.0, "must be > 0 and finite"),
        ("burst", 0.5, "must be >= 1"),
        ("max_keys", 0, "must be in 1..100000000"),
        ("when_full", "drop", "must be evict_fullest or refuse"),
    ],
)
def test_config_errors_name_field_value_and_rule(field: str, value: object, rule: str) -> None:
    with pytest.raises(ConfigError) as e:
        KeyedRateLimiterConfig(**{field: value})  # type: ignore[arg-type]
    assert str(e.value) == f"KeyedRateLimiterConfig.{field}={value!r}: {rule}"


def test_exported_from_the_front_door_and_admission() -> None:
    assert resilience.KeyedRateLimiter is KeyedRateLimiter
    cfg = KeyedRateLimiterConfig.from_dict({"rate": 50, "burst": 100, "max_keys": 20000})
    assert cfg.bucket == TokenBucketConfig(rate=50.0, burst=100.0)
    assert KeyedRateLimiterConfig.from_dict(cfg.to_dict()) == cfg


# -- eviction -----------------------------------------------------------------------------
def test_a_full_table_evicts_an_idle_key_not_a_busy_one() -> None:
    rl = limiter(rate=1.0, burst=2.0, max_keys=2)
    assert rl.try_acquire("busy", 0.0) and rl.try_acquire("busy", 0.0)  # empty, full again at t = 2
    assert rl.try_acquire("light", 0.5)  # full again at t = 1.5
    assert rl.try_acquire("new", 1.6)  # "light" is idle by now: it goes, "busy" stays
    assert set(rl.keys()) == {"busy", "new"}
    assert (rl.evicted_idle, rl.evicted_busy) == (1, 0)
    assert rl.available("busy", 1.6) == pytest.approx(1.6)  # kept its state


def test_a_table_of_busy_keys_evicts_the_fullest_by_default() -> None:
    rl = limiter(rate=1.0, burst=4.0, max_keys=2)
    for _ in range(3):
        assert rl.try_acquire("heavy", 0.0)  # 1 token left
    assert rl.try_acquire("light", 0.0)  # 3 tokens left: the fullest
    assert rl.try_acquire("new", 0.1)
    assert set(rl.keys()) == {"heavy", "new"} and rl.evicted_busy == 1


def test_refuse_policy_refuses_new_keys_until_one_goes_idle() -> None:
    rl = limiter(rate=1.0, burst=2.0, max_keys=2, when_full="refuse")
    assert rl.try_acquire("a", 0.0) and rl.try_acquire("b", 0.0)  # each full again at t = 1
    assert not rl.try_acquire("c", 0.5)
    assert rl.refused_full == 1 and set(rl.keys()) == {"a", "b"}
    assert rl.rejections.snapshot() == {"rate_limited": 1}
    assert rl.try_acquire("a", 0.5)  # held keys are served as before
    assert rl.try_acquire("c", 1.0)  # "b" is idle at 1.0 ("a" is not): "b" makes room
    assert set(rl.keys()) == {"a", "c"}


def test_evict_idle_removes_exactly_the_full_buckets() -> None:
    rl = limiter(rate=1.0, burst=2.0)
    rl.try_acquire("one", 0.0)  # full at 1
    rl.try_acquire("two", 0.0)
    rl.try_acquire("two", 0.0)  # full at 2
    assert rl.evict_idle(0.99) == 0
    assert rl.evict_idle(1.0) == 1 and rl.keys() == ["two"]
    assert rl.evict_idle(2.0) == 1 and len(rl) == 0


def churn(seed: int, requests: int = 20_000) -> list[tuple[str, float, float]]:
    """Clients that come, send a short burst at ~5/s, and leave for good: (key, time, tokens)."""
    rng = random.Random(seed)
    out: list[tuple[str, float, float]] = []
    active: list[tuple[str, int]] = []
    t, next_id = 0.0, 0
    while len(out) < requests:
        t += rng.expovariate(300.0)
        if not active or rng.random() < 0.05:
            active.append((f"10.{next_id >> 16}.{(next_id >> 8) & 255}.{next_id & 255}", rng.randint(3, 40)))
            next_id += 1
        i = rng.randrange(len(active))
        key, left = active[i]
        out.append((key, t, rng.choice((1.0, 1.0, 2.0))))
        if left <= 1:
            active.pop(i)
        else:
            active[i] = (key, left - 1)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_evicting_idle_keys_changes_no_decision(seed: int) -> None:
    calls = churn(seed)
    bounded = limiter(rate=5.0, burst=4.0, max_keys=150)
    reference = Reference(rate=5.0, burst=4.0)
    got = [bounded.try_acquire(k, t, n) for k, t, n in calls]
    want = [reference.try_acquire(k, t, n) for k, t, n in calls]
    assert len(reference.buckets) > 1000  # far more keys than the table holds ...
    assert bounded.evicted_idle > 800 and bounded.evicted_busy == 0  # ... all evicted while idle
    assert 0.05 < want.count(False) / len(want) < 0.95  # the decisions are not all alike
    assert got == want


def test_negative_control_evicting_busy_keys_does_change_decisions() -> None:
    calls = churn(1)
    bounded = limiter(rate=5.0, burst=4.0, max_keys=8)  # too small: busy keys are evicted
    reference = Reference(rate=5.0, burst=4.0)
    got = [bounded.try_acquire(k, t, n) for k, t, n in calls]
    want = [reference.try_acquire(k, t, n) for k, t, n in calls]
    assert bounded.evicted_busy > 0
    assert sum(g and not w for g, w in zip(got, want, strict=True)) > 0  # a fresh bucket over-grants


def fill(rl: KeyedRateLimiter | Reference, keys: int, first: int = 0) -> None:
    for i in range(first, first + keys):
        rl.try_acquire(f"k{i}", i * 1e-4)  # 10,000 new keys per second, none idle yet


def traced(rl: KeyedRateLimiter | Reference, keys: int, first: int = 0) -> int:
    """Bytes still allocated after ``fill`` (traced from its start)."""
    tracemalloc.start()
    try:
        fill(rl, keys, first)
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_under_100k_distinct_keys() -> None:
    rl = limiter(rate=1.0, burst=100.0, max_keys=1000)
    fill(rl, 100_000)
    assert len(rl) == rl.heap_size() == 1000
    assert rl.evicted_busy == 99_000
    # bytes: 10,000 more keys through the full table leave only the table (1000 keys, ~0.5 kB each);
    # the unbounded reference (the negative control) keeps ~0.5 kB for every key it has seen
    assert traced(rl, 10_000, first=100_000) < 800 * 1000
    assert traced(Reference(rate=1.0, burst=100.0), 5_000) > 400 * 5_000


def test_heap_stays_bounded_when_few_keys_take_many_times() -> None:
    rl = limiter(rate=1000.0, burst=10.0, max_keys=10)
    for i in range(50_000):
        rl.try_acquire(f"k{i % 7}", i * 1e-3)
    assert len(rl) == rl.heap_size() == 7


# -- threads ------------------------------------------------------------------------------
KEYS = [f"ip{i}" for i in range(300)]


def grants_under_threads(
    rl: KeyedRateLimiter, keys: list[str], threads: int = 8, calls: int = 3
) -> Counter[str]:
    def work(_: int, calls: int) -> Counter[str]:
        got: Counter[str] = Counter()
        for _ in range(calls):
            for k in keys:
                if rl.try_acquire(k, 0.0):  # time stands still: no refill, each key grants burst at most
                    got[k] += 1
        return got

    total: Counter[str] = Counter()
    for c in hammer(work, threads=threads, calls=calls):
        total.update(c)
    return total


def test_eight_threads_never_get_more_than_burst_per_key() -> None:
    rl = limiter(rate=1.0, burst=5.0, max_keys=10_000)
    total = grants_under_threads(rl, KEYS)
    assert total == Counter({k: 5 for k in KEYS})
    assert rl.rejections.total() == 8 * 3 * len(KEYS) - 5 * len(KEYS)


def slow_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between finding a key missing and storing its new bucket."""
    slot = keyed._Slot

    def build(tokens: float, now: float) -> object:
        time.sleep(0.002)
        return slot(tokens, now)

    monkeypatch.setattr(keyed, "_Slot", build)


def test_first_uses_racing_on_a_new_key_share_one_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_buckets(monkeypatch)
    rl = limiter(rate=1.0, burst=1.0, max_keys=10_000)
    keys = KEYS[:40]
    assert grants_under_threads(rl, keys, calls=1) == Counter({k: 1 for k in keys})


def test_negative_control_without_the_lock_a_new_key_gets_several_buckets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_buckets(monkeypatch)
    rl = swap_lock(limiter(rate=1.0, burst=1.0, max_keys=10_000))
    keys = KEYS[:40]
    total = grants_under_threads(rl, keys, calls=1)
    assert sum(total.values()) > len(keys), "without the lock, racing first uses should over-grant"
