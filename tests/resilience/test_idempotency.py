"""Idempotency keys: state machine, begin/replay/in-progress/conflict, CAS answers, TTL, helpers, pipeline."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.backoff import ConstantBackoff
from resilience.clock import ManualClock
from resilience.idempotency import (
    IdempotencyConfig,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    IdempotencyStore,
    IllegalTransition,
    InProgress,
    KeyConflict,
    KeyState,
    New,
    Replay,
    ReplayedFailure,
    async_idempotent_call,
    can_transition,
    check_transition,
    idempotent_call,
)
from resilience.outcome import FailureReason, Outcome
from resilience.pipeline import Pipeline
from resilience.retry import RetryConfig
from resilience.steps import Attempt, Done, GiveUp, Wait

P, S, F = KeyState.PENDING, KeyState.SUCCEEDED, KeyState.FAILED


def test_state_machine_edges() -> None:
    allowed = {(a, b) for a in KeyState for b in KeyState if can_transition(a, b)}
    assert allowed == {(P, S), (P, F)}
    check_transition(P, S)
    with pytest.raises(IllegalTransition, match="illegal idempotency-key transition succeeded -> pending"):
        check_transition(S, P)
    assert not P.terminal and S.terminal and F.terminal


def test_begin_new_then_in_progress_then_replay() -> None:
    store = IdempotencyStore(IdempotencyConfig(retry_after=2.5))
    first = store.begin("order-1", 0.0, "fp")
    assert isinstance(first, New)
    dup = store.begin("order-1", 0.1, "fp")
    assert isinstance(dup, InProgress) and dup.retry_after == 2.5 and dup.status == 409
    assert store.succeed("order-1", first.token, 0.2, {"id": 7}).ok
    again = store.begin("order-1", 0.3, "fp")
    assert isinstance(again, Replay) and again.result == {"id": 7} and again.record.state is S
    assert store.counts.snapshot() == {"new": 1, "in_progress": 1, "replayed": 1}


def test_key_reused_with_another_fingerprint_is_a_422_conflict() -> None:
    store = IdempotencyStore()
    store.begin("k", 0.0, "body-a")
    answer = store.begin("k", 1.0, "body-b")
    assert isinstance(answer, KeyConflict) and answer.status == 422
    assert isinstance(store.begin("k", 1.0), InProgress)  # no fingerprint given: not compared
    assert store.counts["conflict"] == 1


def test_compare_and_set_answers_like_http() -> None:
    store = IdempotencyStore()
    new = store.begin("k", 0.0)
    assert isinstance(new, New)
    missing = store.compare_and_set("nope", P, S, 0.0)
    assert (missing.status, missing.reason, missing.state) == (404, "not_found", None)
    wrong = store.compare_and_set("k", S, F, 0.0)  # expect-state mismatch
    assert (wrong.status, wrong.reason, wrong.state, wrong.conflict) == (409, "state_mismatch", P, True)
    stolen = store.compare_and_set("k", P, S, 0.0, token=new.token + 1)
    assert (stolen.status, stolen.reason) == (409, "token_mismatch")
    illegal = store.compare_and_set("k", P, P, 0.0)
    assert (illegal.status, illegal.reason) == (409, "illegal_transition")
    ok = store.compare_and_set("k", P, F, 0.0, result="boom", token=new.token)
    assert (ok.status, ok.reason, ok.state) == (200, "ok", F)
    assert store.compare_and_set("k", F, S, 0.0).reason == "illegal_transition"  # terminal stays terminal
    assert store.counts["state_conflict"] == 5


def test_ttl_purges_lazily_and_pending_ttl_frees_an_abandoned_key() -> None:
    store = IdempotencyStore(IdempotencyConfig(ttl=100.0, pending_ttl=10.0))
    a = store.begin("a", 0.0)
    assert isinstance(a, New)
    assert isinstance(store.begin("a", 9.9), InProgress)
    retaken = store.begin("a", 10.0)  # the owner is presumed gone
    assert isinstance(retaken, New)
    assert store.succeed("a", a.token, 10.5).reason == "token_mismatch"  # the old owner cannot finish
    assert store.succeed("a", retaken.token, 11.0).ok
    assert store.get("a", 110.9) is not None  # kept ttl from completion
    assert store.get("a", 111.0) is None
    assert len(store) == 0
    store.begin("b", 200.0)
    store.begin("c", 200.0)
    assert store.purge(209.0) == 0 and store.purge(210.0) == 2


def test_release_forgets_a_pending_key_for_its_owner_only() -> None:
    store = IdempotencyStore()
    new = store.begin("k", 0.0)
    assert isinstance(new, New)
    assert store.release("k", new.token + 1, 0.0).reason == "token_mismatch"
    assert store.release("k", new.token, 0.0).ok
    assert isinstance(store.begin("k", 0.0), New)
    assert store.release("zz", 1, 0.0).status == 404


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["begin", "ok", "fail"]), st.floats(0, 5))))
def test_property_one_new_per_live_key_and_terminal_states_stick(
    script: list[tuple[str, str, float]],
) -> None:
    store = IdempotencyStore(IdempotencyConfig(ttl=20.0, pending_ttl=20.0))
    clock = ManualClock()
    tokens: dict[str, int] = {}
    finished: dict[str, KeyState] = {}
    for key, op, dt in script:
        clock.advance(dt)
        now = clock.now()
        live = store.get(key, now)
        if live is None:
            tokens.pop(key, None)
            finished.pop(key, None)
        if op == "begin":
            answer = store.begin(key, now)
            assert isinstance(answer, New) == (live is None)
            if isinstance(answer, New):
                tokens[key] = answer.token
            elif live is not None and live.state.terminal:
                assert isinstance(answer, Replay) and answer.record.state is finished[key]
        elif key in tokens:
            target = S if op == "ok" else F
            res = store.compare_and_set(key, P, target, now, token=tokens[key])
            assert res.ok == (key not in finished)
            finished.setdefault(key, target)


def test_idempotent_call_executes_once_and_replays() -> None:
    store, clock, runs = IdempotencyStore(), ManualClock(), []

    def charge() -> str:
        runs.append(1)
        return "receipt-1"

    assert idempotent_call(store, "pay-1", charge, clock=clock, fingerprint="x") == "receipt-1"
    assert idempotent_call(store, "pay-1", charge, clock=clock, fingerprint="x") == "receipt-1"
    assert len(runs) == 1
    with pytest.raises(IdempotencyKeyReused) as info:
        idempotent_call(store, "pay-1", charge, clock=clock, fingerprint="y")
    assert info.value.status == 422


def test_idempotent_call_stores_failures_or_releases_them() -> None:
    store, clock = IdempotencyStore(), ManualClock()

    def broken() -> None:
        raise ValueError("card declined")

    with pytest.raises(ValueError):
        idempotent_call(store, "a", broken, clock=clock)
    with pytest.raises(ReplayedFailure) as info:
        idempotent_call(store, "a", broken, clock=clock)
    assert isinstance(info.value.error, ValueError)
    with pytest.raises(ValueError):
        idempotent_call(store, "b", broken, clock=clock, release_on_error=True)
    assert idempotent_call(store, "b", lambda: "second try ran", clock=clock) == "second try ran"


def test_idempotent_call_while_pending_raises_in_progress_without_running() -> None:
    store, clock = IdempotencyStore(IdempotencyConfig(retry_after=0.75)), ManualClock()
    store.begin("k", 0.0)
    with pytest.raises(IdempotencyInProgress) as info:
        idempotent_call(store, "k", lambda: pytest.fail("ran twice"), clock=clock)
    assert info.value.retry_after == 0.75 and info.value.status == 409


def test_async_idempotent_call_replays_and_cancellation_leaves_the_key_pending() -> None:
    async def main() -> None:
        store, clock = IdempotencyStore(), ManualClock()

        async def work() -> int:
            return 42

        assert await async_idempotent_call(store, "k", work, clock=clock) == 42
        assert await async_idempotent_call(store, "k", work, clock=clock) == 42

        async def hang() -> int:
            await asyncio.Event().wait()
            return 0

        task = asyncio.create_task(async_idempotent_call(store, "c", hang, clock=clock))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        record = store.get("c", 0.0)  # the outcome is unknown: a retry must not run it again
        assert record is not None and record.state is KeyState.PENDING

    asyncio.run(main())


# -- with the core retry rule --------------------------------------------------------------


def _drive(pipeline: Pipeline, server: object, clock: ManualClock, *, key: str | None) -> object:
    """A manual-clock driver: the first attempt's response is lost (timeout) after the server ran."""
    ex = pipeline.begin(clock.now(), idempotent=False, idempotency_key=key)
    step = ex.next(clock.now())
    while True:
        if isinstance(step, Attempt):
            outcome = server(step.number)  # type: ignore[operator]
            clock.advance(0.1)
            step = ex.next(clock.now(), outcome)
        elif isinstance(step, Wait):
            clock.advance(step.delay)
            step = ex.next(clock.now())
        else:
            return step


def test_a_timed_out_non_idempotent_call_with_a_key_is_retried_and_executes_once() -> None:
    store, clock, charges = IdempotencyStore(), ManualClock(), []
    pipeline = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(0.2)))

    def charge() -> str:
        charges.append(clock.now())
        return "receipt"

    def server(attempt: int, key: str = "order-9") -> Outcome:
        try:
            idempotent_call(store, key, charge, clock=clock)
        except IdempotencyInProgress as e:
            return Outcome.error("idempotency_in_progress", retryable=True, retry_after=e.retry_after)
        return Outcome.timeout() if attempt == 1 else Outcome.success()  # attempt 1: reply lost

    step = _drive(pipeline, server, clock, key="order-9")
    assert isinstance(step, Done)
    assert len(charges) == 1  # the retry replayed the stored result
    assert store.counts.snapshot() == {"new": 1, "replayed": 1}


def test_without_a_key_the_core_refuses_to_retry_a_timed_out_non_idempotent_call() -> None:
    clock, runs = ManualClock(), []
    pipeline = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(0.2)))

    def server(attempt: int) -> Outcome:
        runs.append(attempt)
        return Outcome.timeout()

    step = _drive(pipeline, server, clock, key=None)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.NOT_IDEMPOTENT
    assert runs == [1]


def test_a_key_without_a_store_would_execute_twice() -> None:
    """The control: the retry rule alone does not prevent a second execution; the store does."""
    clock, charges = ManualClock(), []
    pipeline = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(0.2)))

    def server(attempt: int) -> Outcome:
        charges.append(attempt)
        return Outcome.timeout() if attempt == 1 else Outcome.success()

    assert isinstance(_drive(pipeline, server, clock, key="order-9"), Done)
    assert charges == [1, 2]
