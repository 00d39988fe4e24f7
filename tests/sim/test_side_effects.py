"""The side-effect ledger: duplicates from retries without keys, prevented with keys (real Pipeline)."""

from __future__ import annotations

import heapq
import random

import pytest

from resilience._config import ConfigError
from resilience.core import ExponentialBackoff, FullJitter
from resilience.idempotency import IdempotencyConfig
from resilience.outcome import FailureReason, Outcome
from resilience.pipeline import Pipeline
from resilience.retry import RetryConfig
from resilience.steps import Attempt, Done, GiveUp, Wait
from sim.model.side_effects import Effect, SideEffectLedger
from sim.scenario.stores import SideEffectsConfig

ATTEMPT_TIMEOUT = 1.0
WRITE_TIME = 3.2  # the write outlives the caller's attempt timeout (a stalled primary)
RETRY = RetryConfig(
    max_attempts=3,
    attempt_timeout=ATTEMPT_TIMEOUT,
    backoff=ExponentialBackoff(base=0.05, cap=1.0, jitter=FullJitter()),
)


def _one_request(
    ledger: SideEffectLedger, key: int, start: float, *, idempotent: bool, keyed: bool, seed: int
) -> tuple[Done | GiveUp, int]:
    """One request through a real Pipeline against an endpoint whose write takes WRITE_TIME.

    Every executed attempt commits its effect WRITE_TIME after it started, even
    when the caller has stopped waiting (the server does not know). Returns the
    final step and the number of attempts.
    """
    pipeline = Pipeline(RETRY, rng=random.Random(seed))
    ex = pipeline.begin(start, idempotent=idempotent, idempotency_key=f"k{key}" if keyed else None)
    commits: list[tuple[float, int]] = []
    now, attempts = start, 0

    def settle(until: float) -> None:
        while commits and commits[0][0] <= until:
            at, token = heapq.heappop(commits)
            ledger.commit(key, token, at)

    step = ex.next(now)
    while isinstance(step, (Attempt, Wait)):
        if isinstance(step, Wait):
            now += step.delay
            settle(now)
            step = ex.next(now)
            continue
        attempts += 1
        decision = ledger.begin(key, now, keyed=keyed)
        if decision.effect is Effect.EXECUTE:
            heapq.heappush(commits, (now + WRITE_TIME, decision.token))
            if step.timeout >= WRITE_TIME:
                outcome = Outcome.success()
                now += WRITE_TIME
            else:
                outcome = Outcome.timeout(step.phase) if step.phase else Outcome.timeout()
                now += step.timeout
        elif decision.effect is Effect.IN_PROGRESS:
            outcome = Outcome.error(
                "http_409", retryable=True, retry_after=ledger.cfg.idempotency.retry_after
            )
        else:
            outcome = Outcome.success("replayed")
        settle(now)
        step = ex.next(now, outcome)
    settle(float("inf"))  # the server finishes what it started
    return step, attempts


def test_retry_after_a_timeout_duplicates_the_effect_without_keys() -> None:
    ledger = SideEffectLedger(SideEffectsConfig())
    step, attempts = _one_request(ledger, 7, 0.0, idempotent=True, keyed=False, seed=1)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.RETRIES_EXHAUSTED
    assert attempts == 3
    assert ledger.executions == 3 and ledger.effects == 3
    assert ledger.duplicates == 2  # one payment, charged three times
    assert ledger.prevented == 0


def test_keys_prevent_the_duplicate() -> None:
    ledger = SideEffectLedger(SideEffectsConfig())
    step, attempts = _one_request(ledger, 7, 0.0, idempotent=False, keyed=True, seed=1)
    assert attempts >= 2  # the non-idempotent call was retried: it carried a key
    assert ledger.executions == 1 and ledger.effects == 1
    assert ledger.duplicates == 0
    assert ledger.prevented == attempts - 1
    assert ledger.in_progress >= 1  # retries while the first write ran got 409
    assert ledger.store.counts["new"] == 1  # the real store saw one new key
    assert isinstance(step, (Done, GiveUp))


def test_non_idempotent_without_keys_is_not_retried() -> None:
    ledger = SideEffectLedger(SideEffectsConfig())
    step, attempts = _one_request(ledger, 7, 0.0, idempotent=False, keyed=False, seed=1)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.NOT_IDEMPOTENT
    assert attempts == 1 and ledger.effects == 1 and ledger.duplicates == 0


def test_replay_after_the_first_finished() -> None:
    ledger = SideEffectLedger(SideEffectsConfig())
    first = ledger.begin("r1", 0.0, keyed=True)
    assert first.effect is Effect.EXECUTE and first.token
    assert ledger.begin("r1", 1.0, keyed=True).effect is Effect.IN_PROGRESS
    assert not ledger.commit("r1", first.token, 3.2)
    assert ledger.begin("r1", 4.0, keyed=True).effect is Effect.REPLAY
    assert (ledger.executions, ledger.effects, ledger.in_progress, ledger.replayed) == (1, 1, 1, 1)


def test_abort_lets_a_keyed_retry_execute() -> None:
    ledger = SideEffectLedger(SideEffectsConfig())
    first = ledger.begin("r2", 0.0, keyed=True)
    ledger.abort("r2", first.token, 0.5)  # the write failed before it took effect
    second = ledger.begin("r2", 1.0, keyed=True)
    assert second.effect is Effect.EXECUTE
    assert not ledger.commit("r2", second.token, 1.5)
    assert (ledger.aborted, ledger.effects, ledger.duplicates) == (1, 1, 0)


def test_negative_control_key_expired_before_the_retry() -> None:
    """A pending key shorter than the write lets a retry run again: the ledger sees the duplicate."""
    cfg = SideEffectsConfig(idempotency=IdempotencyConfig(ttl=600.0, pending_ttl=0.5, retry_after=0.1))
    ledger = SideEffectLedger(cfg)
    _, attempts = _one_request(ledger, 9, 0.0, idempotent=False, keyed=True, seed=2)
    assert attempts == 3
    assert ledger.duplicates >= 1
    assert ledger.effects == ledger.executions == 1 + ledger.duplicates


def test_duplicates_counted_within_remember_only() -> None:
    ledger = SideEffectLedger(SideEffectsConfig(remember=10.0))
    assert ledger.record("a", 0.0) is Effect.EXECUTE
    assert ledger.record("a", 9.9) is Effect.EXECUTE
    assert ledger.duplicates == 1
    assert ledger.record("a", 20.0) is Effect.EXECUTE  # the first effect is forgotten at 10.0
    assert ledger.duplicates == 1
    assert ledger.record("b", 20.0) is Effect.EXECUTE
    assert ledger.duplicates == 1 and ledger.effects == 4


def test_many_requests_deterministic_and_keys_cut_duplicates_to_zero() -> None:
    def run(keyed: bool, seed: int) -> dict[str, int]:
        ledger = SideEffectLedger(SideEffectsConfig())
        for i in range(100):
            _one_request(ledger, i, i * 0.37, idempotent=not keyed, keyed=keyed, seed=seed * 1000 + i)
        return ledger.counters()

    without, with_keys = run(False, 1), run(True, 1)
    assert without == run(False, 1) and with_keys == run(True, 1)
    assert without["duplicates"] == 200 and without["prevented"] == 0
    assert with_keys["duplicates"] == 0 and with_keys["effects"] == 100
    assert with_keys["executions"] == 100
    assert with_keys["prevented"] == 200  # every retry was refused (409) or replayed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"remember": 0.0}, "SideEffectsConfig.remember=0.0: must be > 0 and finite"),
        ({"remember": -5}, "SideEffectsConfig.remember=-5.0: must be > 0 and finite"),
        ({"keys": True}, "SideEffectsConfig.keys=True: unknown field"),
        ({"idempotency": {"ttl": 1.0}}, "IdempotencyConfig.pending_ttl=300.0: must be <= ttl (1.0)"),
    ],
)
def test_config_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        SideEffectsConfig.from_dict(data)
    assert str(err.value) == message


def test_config_round_trips() -> None:
    cfg = SideEffectsConfig(remember=30.0)
    assert SideEffectsConfig.from_dict(cfg.to_dict()) == cfg
