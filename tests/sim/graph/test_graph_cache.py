"""A cache tier in a run: the ``cache_flush`` fault, late answers that fill (``fill_late``), a backend
serving expired work (``serve_expired``), per-request keys (``key_per``), and the defaults leaving a
plain cache as it was."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from graphcase import chain, const, model, run, scenario

from sim import ScenarioError
from sim.graph.engine import run_model
from sim.model.cache import CacheRT


def cached(
    cache: dict[str, Any], *, db_time: float = 0.01, rate: float = 200.0, **client: Any
) -> dict[str, Any]:
    """web -> cache (a cache tier: no own time, unlimited workers) -> db (``db_time`` per call)."""
    data = chain({"cache": 0.0, "db": db_time}, client=client or None)
    data["services"]["cache"]["cache"] = {"zipf_s": 0.0, "stale_for": 0.0, **cache}
    data["clients"]["web"]["workload"] = {"type": "poisson", "rate": rate}
    data["duration"] = 20.0
    return data


def db_per_second(r: Any) -> list[int]:
    """Calls reaching db per second (each a miss of the cache)."""
    df = r.tier_seconds
    return [int(x) for x in df[df["tier"] == "db"]["offered"].tolist()]


def test_a_plain_cache_reports_only_hits_and_misses() -> None:
    s = run(cached({"ttl": 5.0, "keys": 20})).summary["tiers"]["cache"]["cache"]
    assert set(s) == {"hits", "misses", "hit_ratio"}
    s = run(cached({"ttl": 5.0, "keys": 20, "capacity": 10, "fill_late": True})).summary
    assert set(s["tiers"]["cache"]["cache"]) == {"hits", "misses", "hit_ratio", "evictions", "late_fills"}


def test_a_cache_flush_empties_the_cache_at_its_start() -> None:
    data = cached({"ttl": 1000.0, "keys": 20})
    calm = db_per_second(run(data))
    data["faults"] = [{"type": "cache_flush", "target": "cache", "start": 10.0}]
    r = run(data)
    flushed = db_per_second(r)
    assert sum(calm[5:20]) == sum(flushed[5:10]) == 0  # warm: every key held, nothing reaches db
    assert flushed[10] >= 20  # each key misses again (and more while its answer is on the way)
    assert sum(flushed[12:20]) == 0  # refilled 10 ms later
    assert r.summary["tiers"]["cache"]["cache"]["flushes"] == 1


def test_a_flush_of_one_replica_leaves_the_others() -> None:
    data = cached({"ttl": 1000.0, "keys": 20})
    data["services"]["cache"]["replicas"] = 2
    data["faults"] = [{"type": "cache_flush", "target": "cache#1", "start": 10.0}]
    m = model(data)
    run_model(m)
    assert [c.flushes for c in m.tiers["cache"].caches] == [0, 1]
    data["faults"] = [{"type": "cache_flush", "target": "cache", "start": 10.0}]
    m = model(data)
    run_model(m)
    assert [c.flushes for c in m.tiers["cache"].caches] == [1, 1]


def test_cache_flush_targets_are_checked() -> None:
    data = cached({"ttl": 1000.0, "keys": 20})
    data["faults"] = [
        {"type": "cache_flush", "target": "db", "start": 10.0},
        {"type": "cache_flush", "target": "cache#1", "start": 10.0},
        {"type": "cache_flush", "target": "cache", "start": 20.0},
    ]
    with pytest.raises(ScenarioError) as info:
        scenario(data)
    assert str(info.value).splitlines() == [
        "<test>: faults[0].target='db': must name a service with a cache",
        "<test>: faults[1].target='cache#1': must name a service with a cache",
        "<test>: faults[2].start=20.0: must be < the scenario's duration (20.0)",
    ]


def late(fill_late: bool, **extra: Any) -> dict[str, Any]:
    """One key; the client gives up after 0.1 s, db answers after 0.3 s: every answer comes late."""
    retry = {"max_attempts": 1, "attempt_timeout": 0.1}
    return cached(
        {"ttl": 1.0, "keys": 1, "fill_late": fill_late}, db_time=0.3, rate=50.0, retry=retry, **extra
    )


def test_late_answers_fill_the_cache_only_with_fill_late() -> None:
    dropped = run(late(False)).summary
    assert dropped["tiers"]["cache"]["cache"]["hits"] == 0  # no answer ever came in time
    assert dropped["successes"] == 0
    filled = run(late(True)).summary
    cache = filled["tiers"]["cache"]["cache"]
    assert cache["late_fills"] > 0 and cache["hits"] > 0.6 * (cache["hits"] + cache["misses"])
    # a hit answers at once; a miss always times out, and is answered from the cache only if a
    # late answer filled its key meanwhile (the stale-on-error fallback: degraded)
    assert filled["successes"] == cache["hits"] + filled["degraded_answers"].get("cache:stale", 0)
    assert filled["tiers"]["db"]["arrivals"] == cache["misses"]


def test_a_late_answer_fills_when_it_reaches_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    data = late(True)
    data["links"] = {"dc": {"latency": const(0.05)}}
    data["edges"]["cache_db"]["link"] = "dc"
    data["clients"]["web"]["workload"] = {"type": "burst", "rate": 0.0, "at": 0.0, "count": 1}
    fills: list[tuple[int, float]] = []
    plain_fill = CacheRT.fill
    monkeypatch.setattr(
        CacheRT, "fill", lambda self, key, now: (fills.append((key, now)), plain_fill(self, key, now))
    )
    s = run(data).summary
    # sent at 0, over the link (0.05), served (0.3), back over the link (0.05): long after 0.1
    assert fills == [(0, pytest.approx(0.4))]
    assert s["tiers"]["cache"]["cache"]["late_fills"] == 1 and s["successes"] == 0


def overloaded(serve_expired: bool) -> dict[str, Any]:
    """front -> db with one worker (0.1 s per call) at 20 calls/s: calls wait past their 0.2 s deadline."""
    data = chain({"front": 0.0, "db": 0.1}, client={"retry": {"max_attempts": 1, "attempt_timeout": 0.2}})
    data["services"]["db"].update(workers=1, queue=-1, serve_expired=serve_expired)
    data["clients"]["web"]["workload"] = {"type": "poisson", "rate": 20.0}
    data["duration"] = 10.0
    return data


def test_serve_expired_starts_work_whose_deadline_has_passed() -> None:
    checked = run(overloaded(False)).summary["tiers"]["db"]
    # twice what db can serve: about half the calls are answered 504 at dequeue
    assert checked["deadline_expired"] > 0.4 * checked["arrivals"]
    late_work = run(overloaded(True)).summary["tiers"]["db"]
    assert late_work["deadline_expired"] == 0
    assert late_work["served"] == pytest.approx(10 / 0.1, abs=5)  # the worker never stops
    assert late_work["useful_work_ratio"] < 0.1  # almost all of it for callers who have given up


@pytest.mark.parametrize(("key_per", "attempts_per_key"), [("request", 3), ("arrival", 1)])
def test_every_attempt_of_a_request_asks_the_same_key(
    monkeypatch: pytest.MonkeyPatch, key_per: str, attempts_per_key: int
) -> None:
    retry = {"max_attempts": 3, "backoff": {"type": "constant", "base": 0.01}}
    data = cached({"ttl": 5.0, "keys": 1_000_000, "key_per": key_per}, retry=retry)
    data["services"]["cache"]["replicas"] = 2  # round robin: a request's attempts visit both
    data["services"]["db"]["errors"] = [{"probability": 1.0, "status": 503}]  # nothing is ever filled
    data["clients"]["web"]["workload"] = {
        "type": "burst",
        "rate": 0.0,
        "at": 0.0,
        "count": 200,
        "spread": 1.0,
    }
    asked: list[int] = []
    plain_lookup = CacheRT.lookup
    monkeypatch.setattr(
        CacheRT, "lookup", lambda self, key, now: (asked.append(key), plain_lookup(self, key, now))[1]
    )
    s = run(data).summary
    assert s["attempts"] == len(asked) == 600
    counts = Counter(asked)
    assert len(counts) >= 600 // attempts_per_key - 5  # a few keys may repeat by chance
    assert Counter(counts.values()).most_common(1)[0][0] == attempts_per_key
