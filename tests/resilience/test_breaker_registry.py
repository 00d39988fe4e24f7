"""BreakerRegistry: one breaker per name, idle CLOSED breakers evicted, protection never dropped."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from concurrency import hammer, swap_lock

from resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from resilience.core import Outcome

ERR = Outcome.error("http_500", retryable=True)
CFG = BreakerConfig(
    window_size=2, minimum_calls=2, wait_in_open=10, max_wait_in_half_open=5, permitted_calls_in_half_open=2
)


def trip(b: CircuitBreaker, now: float) -> None:
    for _ in range(2):
        permit = b.try_acquire(now)
        assert permit is not None
        b.record(permit, now, 0.0, ERR)
    assert b.state is BreakerState.OPEN


def test_get_creates_once_per_name() -> None:
    r = BreakerRegistry(CFG, idle_ttl=60)
    a = r.get("host-a", 0.0)
    assert r.get("host-a", 1.0) is a and r.get("host-b", 1.0) is not a
    assert a.name == "host-a" and a.config is CFG
    assert sorted(r.names()) == ["host-a", "host-b"] and len(r) == 2 and "host-a" in r


def test_per_name_configs_and_rngs() -> None:
    special = BreakerConfig(window_size=5, minimum_calls=5, wait_jitter=0.5)
    names: list[str] = []

    def rng_factory(name: str) -> random.Random:
        names.append(name)
        return random.Random(name)

    r = BreakerRegistry(CFG, idle_ttl=60, rng_factory=rng_factory, configs={"db": special})
    assert r.get("db", 0.0).config is special and r.get("api", 0.0).config is CFG
    assert names == ["db", "api"]


def test_jitter_needs_an_rng_factory() -> None:
    with pytest.raises(ValueError, match="needs an rng_factory"):
        BreakerRegistry(BreakerConfig(wait_jitter=0.1), idle_ttl=60)
    with pytest.raises(ValueError, match="needs an rng_factory"):
        BreakerRegistry(CFG, idle_ttl=60, configs={"db": BreakerConfig(wait_jitter=0.1)})


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), "60"])
def test_idle_ttl_must_be_positive(ttl: Any) -> None:
    with pytest.raises(ValueError, match="idle_ttl must be > 0"):
        BreakerRegistry(CFG, idle_ttl=ttl)


def test_evicts_idle_closed_breakers_only() -> None:
    r = BreakerRegistry(CFG, idle_ttl=60)
    idle = r.get("idle", 0.0)
    r.get("busy", 0.0).try_acquire(50.0)  # use of the breaker itself counts
    r.get("fetched", 30.0)  # so does get()
    trip(r.get("open", 0.0), 0.0)
    half = r.get("half", 0.0)
    trip(half, 0.0)
    r.get("forced", 0.0).force_open(0.0)
    r.get("disabled", 0.0).disable(0.0)
    assert r.evict_idle(59.9) == []
    assert sorted(r.evict_idle(90.0)) == ["fetched", "idle"]
    assert "idle" not in r and "open" in r and "forced" in r and "disabled" in r
    assert r.get("idle", 91.0) is not idle  # a new one on the next use
    assert sorted(r.evict_idle(200.0)) == ["busy", "idle"]


def test_never_evicts_protection_until_it_closes() -> None:
    r = BreakerRegistry(CFG, idle_ttl=60)
    b = r.get("api", 0.0)
    trip(b, 0.0)
    probe = b.try_acquire(10.0)  # half-open, probe outstanding
    assert probe is not None
    # the probe took too long: half-open 10..15, open 15..25, half-open 25..30, ... (period 15 s)
    assert b.state_at(1002.0) is BreakerState.HALF_OPEN and b.state_at(1007.0) is BreakerState.OPEN
    assert r.evict_idle(1007.0) == []
    b.record(probe, 1007.0, 1.0, Outcome.success())  # late: decides nothing
    assert b.state is BreakerState.OPEN and b.metrics().late == 1
    for _ in range(2):
        permit = b.try_acquire(1015.0)
        assert permit is not None
        b.record(permit, 1015.0, 0.0, Outcome.success())
    assert b.state is BreakerState.CLOSED
    assert r.evict_idle(1075.0) == ["api"]


def _yielding_rng(name: str) -> random.Random:
    """An rng factory that lets other threads run while a breaker is being created."""
    time.sleep(0)
    return random.Random(name)


def _contended_registry() -> BreakerRegistry:
    return BreakerRegistry(CFG, idle_ttl=60, rng_factory=_yielding_rng)


def _contended_gets(registry: BreakerRegistry) -> list[object]:
    def work(i: int, calls: int) -> list[int]:
        return [id(registry.get(f"host-{k % 200}", float(k))) for k in range(calls)]

    return hammer(work, 16, 2_000)


def _distinct_per_name(results: list[Any]) -> int:
    per_name: dict[int, set[int]] = {}
    for ids in results:
        for k, ident in enumerate(ids):
            per_name.setdefault(k % 200, set()).add(ident)
    return max(len(s) for s in per_name.values())


def test_concurrent_gets_share_one_breaker_per_name() -> None:
    r = _contended_registry()
    results = _contended_gets(r)
    assert _distinct_per_name(results) == 1 and len(r) == 200


def test_negative_control_no_op_lock_creates_duplicates() -> None:
    """Without the lock two threads can both miss and create: callers get different breakers."""
    worst = 1
    for _ in range(3):
        r = swap_lock(_contended_registry())
        worst = max(worst, _distinct_per_name(_contended_gets(r)))
        if worst > 1:
            break
    assert worst > 1
