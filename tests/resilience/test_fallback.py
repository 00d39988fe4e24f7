"""Degradation tiers: cache → backup → compensation, which tier served, and what is counted."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping

import pytest

from resilience.clock import ManualClock
from resilience.drivers.errors import DeadlineExceededError, RequestFailed
from resilience.events import EventKind, TraceEvent
from resilience.fallback import (
    Accepted,
    CallBackup,
    CompensationRecord,
    Enqueue,
    Fail,
    Fallback,
    FallbackConfig,
    Serve,
    Tier,
    TTLCache,
    async_call_with_fallback,
    call_with_fallback,
    failure_reason,
    handles_failure,
)
from resilience.outcome import FailureReason, Outcome, TimeoutPhase, TimeoutSource
from resilience.pipeline import Pipeline
from resilience.retry import RetryConfig
from resilience.steps import Attempt, GiveUp
from resilience.timeouts import PhaseTimeout


class Boom(ConnectionError):
    """An outage: an I/O error, which the default ``handle`` degrades."""


def fail() -> str:
    raise Boom("primary down")


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def inc(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        self.calls.append((name, dict(labels)))


def test_primary_success_is_tier_primary_and_fills_the_cache() -> None:
    fb, clock = Fallback(), ManualClock()
    result = call_with_fallback(lambda: "fresh", fb, "user-1", clock=clock)
    assert (result.value, result.tier, result.degraded) == ("fresh", Tier.PRIMARY, False)
    assert fb.counts.total() == 0  # a primary answer is not a fallback
    clock.advance(10)
    stale = call_with_fallback(fail, fb, "user-1", clock=clock)
    assert (stale.value, stale.tier, stale.degraded) == ("fresh", Tier.CACHE, True)


def test_cache_older_than_stale_if_error_is_not_served() -> None:
    fb, clock = Fallback(FallbackConfig(stale_if_error=5.0)), ManualClock()
    call_with_fallback(lambda: "v", fb, "k", clock=clock)
    clock.advance(5.0)
    assert call_with_fallback(fail, fb, "k", clock=clock).tier is Tier.CACHE
    clock.advance(0.1)
    with pytest.raises(Boom):
        call_with_fallback(fail, fb, "k", clock=clock)  # no other tier: the primary failure stands


def test_backup_serves_on_cache_miss_and_is_not_cached() -> None:
    fb = Fallback(backup=lambda key: f"replica:{key}")
    clock = ManualClock()
    result = call_with_fallback(fail, fb, "u2", clock=clock)
    assert (result.value, result.tier) == ("replica:u2", Tier.BACKUP)
    assert fb.cache is not None and len(fb.cache) == 0


def test_compensation_when_backup_fails_enqueues_and_returns_accepted() -> None:
    queue: deque[CompensationRecord] = deque()

    def backup(key: object) -> str:
        raise Boom("replica down")

    fb = Fallback(backup=backup, compensation=queue, name="orders")
    clock = ManualClock(3.0)
    result = call_with_fallback(fail, fb, "o-1", payload={"qty": 2}, clock=clock)
    assert result.tier is Tier.COMPENSATION
    assert isinstance(result.value, Accepted)
    assert list(queue) == [CompensationRecord("o-1", "error", 3.0, {"qty": 2})]
    assert fb.counts.snapshot() == {"compensation": 1}


def test_compensation_to_a_callable_and_a_refusing_queue_reraises_the_primary() -> None:
    seen: list[CompensationRecord] = []
    fb = Fallback(cache=False, compensation=seen.append)
    assert call_with_fallback(fail, fb, "a").tier is Tier.COMPENSATION
    assert [r.key for r in seen] == ["a"]

    def full(record: CompensationRecord) -> None:
        raise OSError("queue full")

    with pytest.raises(Boom) as info:
        call_with_fallback(fail, Fallback(cache=False, compensation=full), "b")
    assert any("compensation enqueue failed" in note for note in info.value.__notes__)


def test_reason_comes_from_the_driver_exception_and_cancelled_is_passed_through() -> None:
    assert (
        failure_reason(DeadlineExceededError(FailureReason.DEADLINE_EXCEEDED, None, 2)) == "deadline_exceeded"
    )
    assert failure_reason(GiveUp(FailureReason.BREAKER_OPEN, None)) == "breaker_open"
    assert failure_reason(Boom()) == "error"
    queue: deque[CompensationRecord] = deque()
    fb = Fallback(backup=lambda k: "b", compensation=queue)

    def cancelled() -> str:
        raise RequestFailed(FailureReason.CANCELLED, None, 1)

    with pytest.raises(RequestFailed):
        call_with_fallback(cancelled, fb, "k")
    assert fb.counts.total() == 0 and not queue


def test_decision_object_is_sans_io_and_names_each_step() -> None:
    fb = Fallback(backup=lambda k: k, compensation=deque())
    d = fb.begin("k", payload="p")
    step = d.on_failure(1.0, GiveUp(FailureReason.RETRIES_EXHAUSTED, Outcome.timeout()))
    assert step == CallBackup("k")
    step = d.on_backup(2.0, error=Boom())
    assert step == Enqueue(CompensationRecord("k", "retries_exhausted", 2.0, "p"))
    assert isinstance(step, Enqueue)
    assert d.on_enqueued(2.0, step.record, ok=False) == Fail("retries_exhausted")
    served = d.on_enqueued(2.0, step.record)
    assert isinstance(served, Serve) and served.result.tier is Tier.COMPENSATION


def test_fallbacks_reach_the_catalog_sink_by_tier() -> None:
    sink = RecordingSink()
    fb = Fallback(backup=lambda k: "b", name="profile", sink=sink)
    call_with_fallback(lambda: "a", fb, "k1")
    call_with_fallback(fail, fb, "k1")
    call_with_fallback(fail, fb, "k2")
    assert sink.calls == [
        ("resilience_fallbacks_total", {"name": "profile", "tier": "cache"}),
        ("resilience_fallbacks_total", {"name": "profile", "tier": "backup"}),
    ]


def test_ttl_cache_is_bounded_lru() -> None:
    cache = TTLCache(max_age=10.0, max_entries=2)
    cache.put("a", 1, 0.0)
    cache.put("b", 2, 0.0)
    assert cache.get("a", 1.0) == (True, 1)  # a is now most recent
    cache.put("c", 3, 1.0)
    assert cache.get("b", 1.0) == (False, None)
    assert len(cache) == 2


def test_a_fallback_answer_is_not_a_primary_success_in_the_pipeline_trace() -> None:
    trace: list[TraceEvent] = []
    pipeline = Pipeline(RetryConfig(max_attempts=1))
    clock = ManualClock()
    fb = Fallback()
    fb.begin("k").on_success(0.0, "cached")

    def driver_call() -> str:  # a minimal driver: one attempt, times out, gives up
        ex = pipeline.begin(clock.now(), trace=trace)
        step = ex.next(clock.now())
        assert isinstance(step, Attempt)
        clock.advance(1.0)
        final = ex.next(clock.now(), Outcome.timeout())
        assert isinstance(final, GiveUp)
        raise RequestFailed(final.reason, final.last, ex.attempts)

    result = call_with_fallback(driver_call, fb, "k", clock=clock)
    assert result.tier is Tier.CACHE and result.value == "cached"
    kinds = [e.kind for e in trace]
    assert EventKind.GIVE_UP in kinds and EventKind.SUCCESS not in kinds
    assert fb.counts.snapshot() == {"cache": 1}


def test_async_helper_awaits_an_async_backup() -> None:
    async def main() -> None:
        async def primary() -> str:
            raise Boom("down")

        async def backup(key: object) -> str:
            return "async-replica"

        fb = Fallback(cache=False, backup=backup)
        result = await async_call_with_fallback(primary, fb, "k", clock=ManualClock())
        assert (result.value, result.tier) == ("async-replica", Tier.BACKUP)

        async def ok() -> str:
            return "primary"

        fresh = await async_call_with_fallback(ok, Fallback(), "k")
        assert fresh.tier is Tier.PRIMARY
        with pytest.raises(Boom) as info:
            await async_call_with_fallback(primary, Fallback(cache=False, backup=lambda k: fail()), "k")
        assert any("backup failed" in note for note in info.value.__notes__)

    asyncio.run(main())


def _bug() -> str:
    raise NameError("name 'usr' is not defined")


@pytest.mark.parametrize(
    ("failure", "handled"),
    [
        (RequestFailed(FailureReason.RETRIES_EXHAUSTED, None, 3), True),
        (DeadlineExceededError(FailureReason.DEADLINE_EXCEEDED, None, 1), True),
        (GiveUp(FailureReason.BREAKER_OPEN, None), True),
        (OSError("network unreachable"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (PhaseTimeout(TimeoutPhase.CONNECT, TimeoutSource.CLIENT, 1.0), True),
        (NameError("x"), False),
        (TypeError("bad argument"), False),
        (KeyError("k"), False),
        (ValueError("v"), False),
        (AssertionError(), False),
    ],
)
def test_default_handle_degrades_outages_not_bugs(failure: BaseException | GiveUp, handled: bool) -> None:
    assert handles_failure(failure) is handled
    assert Fallback().handle is handles_failure


@pytest.mark.parametrize("bug", [NameError("name 'usr' is not defined"), TypeError("f() takes 1 argument")])
def test_a_programming_error_propagates_unchanged_and_no_tier_is_tried(bug: Exception) -> None:
    queue: deque[CompensationRecord] = deque()
    backups: list[object] = []
    fb = Fallback(backup=backups.append, compensation=queue)
    clock = ManualClock()
    call_with_fallback(lambda: "cached", fb, "k", clock=clock)  # a cache entry that could be served

    def primary() -> str:
        raise bug

    with pytest.raises(type(bug)) as info:
        call_with_fallback(primary, fb, "k", clock=clock)
    assert info.value is bug and getattr(bug, "__notes__", []) == []
    assert backups == [] and not queue and fb.counts.total() == 0
    assert fb.begin("k").on_failure(0.0, bug) == Fail("error")  # the decision object refuses it too
    assert call_with_fallback(fail, fb, "k", clock=clock).tier is Tier.CACHE  # an outage still degrades


def test_a_custom_handle_decides_what_is_degraded() -> None:
    seen: list[object] = []

    def only_lookups(failure: BaseException | GiveUp) -> bool:
        seen.append(failure)
        return isinstance(failure, LookupError)

    fb = Fallback(cache=False, backup=lambda k: f"replica:{k}", handle=only_lookups)
    result = call_with_fallback(lambda: {}["missing"], fb, "k")  # KeyError: a bug by default, handled here
    assert (result.value, result.tier) == ("replica:k", Tier.BACKUP)
    with pytest.raises(Boom):
        call_with_fallback(fail, fb, "k")  # an I/O error the custom predicate refuses
    assert [type(f) for f in seen] == [KeyError, Boom]
    assert fb.counts.snapshot() == {"backup": 1}

    everything = Fallback(cache=False, backup=lambda k: "b", handle=lambda failure: True)
    assert call_with_fallback(_bug, everything, "k").tier is Tier.BACKUP


def test_async_helper_uses_the_handle_predicate() -> None:
    async def main() -> None:
        async def bug() -> str:
            raise TypeError("bad argument")

        async def down() -> str:
            raise RequestFailed(FailureReason.RETRIES_EXHAUSTED, None, 3)

        fb = Fallback(cache=False, backup=lambda k: "replica")
        with pytest.raises(TypeError):
            await async_call_with_fallback(bug, fb, "k")
        assert (await async_call_with_fallback(down, fb, "k")).tier is Tier.BACKUP
        custom = Fallback(cache=False, backup=lambda k: "replica", handle=lambda f: isinstance(f, TypeError))
        assert (await async_call_with_fallback(bug, custom, "k")).tier is Tier.BACKUP
        with pytest.raises(RequestFailed):
            await async_call_with_fallback(down, custom, "k")

    asyncio.run(main())
