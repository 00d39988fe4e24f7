"""16 threads x 10,000 calls through one breaker keep every order-independent invariant.

The negative control runs the same check with the breaker's lock swapped for a
no-op lock and shows at least one invariant breaks, so the test can see the
races the lock prevents. What breaks is the state machine: deciding a
transition (read the state, compute the wait, call ``_to``) spans function
calls, where CPython switches threads, so two threads open the same breaker
twice (``open->open``) or miscount entries and exits. Single counter updates
(``self._n += 1``) and the window's paired bucket/total updates contain no call
or backward jump, where CPython 3.11 checks for a thread switch, so under the
GIL they do not tear even without the lock; the test still checks them, and
they would break on an interpreter that switches anywhere.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from concurrency import BreakerTally, breaker_violations, hammer, swap_lock

from resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from resilience.outcome import Outcome

THREADS = 16
CALLS = 10_000
DT = 0.001  # simulated seconds per tick of the shared counter

ERR = Outcome.error("http_500", retryable=True)
NOT_FOUND = Outcome.error("http_404", retryable=False)
OK = Outcome.success()


def _config() -> BreakerConfig:
    return BreakerConfig(
        window_type="time",
        window_size=2.0,
        bucket_seconds=0.1,
        minimum_calls=20,
        failure_rate_threshold=0.5,
        slow_call_duration=0.05,
        slow_call_rate_threshold=0.8,
        wait_in_open=0.05,
        permitted_calls_in_half_open=4,
        ignored_evidence=("http_404",),
    )


def _worker(breaker: CircuitBreaker, ticks: itertools.count[int]) -> Callable[[int, int], BreakerTally]:
    def work(i: int, calls: int) -> BreakerTally:
        rng = random.Random(i)
        t = BreakerTally()
        for _ in range(calls):
            now = next(ticks) * DT
            if not breaker.try_acquire(now):
                t.denied += 1
                continue
            t.granted += 1
            r = rng.random()
            # failure-heavy phases alternate with healthy ones so every transition happens
            bad = (now // 5.0) % 2 == 1
            if r < 0.05:
                breaker.release(now)
                t.kinds["released"] += 1
                continue
            if r < 0.1:
                outcome, duration, kind = NOT_FOUND, 0.01, "ignored"
            elif r < (0.7 if bad else 0.2):
                outcome, duration, kind = ERR, 0.01, "failed"
            elif r < (0.8 if bad else 0.25):
                outcome, duration, kind = ERR, 0.1, "slow_failed"
            elif r < 0.3:
                outcome, duration, kind = OK, 0.1, "slow_successful"
            else:
                outcome, duration, kind = OK, 0.01, "successful"
            breaker.record(next(ticks) * DT, duration, outcome)
            t.kinds[kind] += 1
        return t

    return work


def run_once(*, no_op_lock: bool) -> tuple[list[str], CircuitBreaker]:
    """One 16 x 10,000 run; returns the broken invariants and the breaker."""
    seen: list[tuple[BreakerState, BreakerState]] = []
    breaker = CircuitBreaker(_config(), state_listeners=[lambda n, a, b, t: seen.append((a, b))])
    if no_op_lock:
        swap_lock(breaker)
    tallies = hammer(_worker(breaker, itertools.count()), THREADS, CALLS)
    return breaker_violations(breaker, tallies, seen, THREADS * CALLS), breaker


def test_invariants_hold_under_contention() -> None:
    broken, breaker = run_once(no_op_lock=False)
    assert broken == []
    m = breaker.metrics()
    # the run exercised the state machine, not just the closed fast path
    assert {(BreakerState.CLOSED, BreakerState.OPEN), (BreakerState.OPEN, BreakerState.HALF_OPEN)} <= set(
        m.transitions
    )
    assert (BreakerState.HALF_OPEN, BreakerState.CLOSED) in m.transitions
    assert m.not_permitted > 0 and m.ignored > 0 and m.released > 0 and m.slow_failed > 0


def test_negative_control_no_op_lock_breaks_an_invariant() -> None:
    failures = []
    for _ in range(3):
        broken, _ = run_once(no_op_lock=True)
        failures.append(broken)
        if broken:
            break
    assert any(failures), "with a no-op lock every invariant still held: the test cannot see the race"
