"""A retry's budget grant is taken before the wait and settled on every path that abandons the retry.

Paths that abandon a granted retry: the breaker refuses the next attempt, the
caller cancels during the wait, the deadline is reached after the wait, the
driver sees an exception of its own (a raising sleep). Each must refund
exactly the grant's cost; a retry that ran settles it with its outcome.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from resilience.core import (
    BreakerConfig,
    CircuitBreaker,
    ConstantBackoff,
    ManualClock,
    Pipeline,
    RetryConfig,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
)
from resilience.drivers import AsyncDriver, BreakerOpenError, DeadlineExceededError, SyncDriver

CAPACITY = 10
COST = 5


def edge() -> tuple[ManualClock, CircuitBreaker, TokenBucketBudget, Pipeline]:
    clock = ManualClock()
    budget = TokenBucketBudget(
        TokenBucketBudgetConfig(capacity=CAPACITY, retry_cost=COST, timeout_cost=COST, no_retry_increment=0)
    )
    breaker = CircuitBreaker(BreakerConfig(minimum_calls=100, wait_in_open=30.0), name="edge")
    retry = RetryConfig(max_attempts=3, timeout=10.0, backoff=ConstantBackoff(base=1.0))
    p = Pipeline(retry, breaker=breaker, budget=budget, rng=random.Random(1))
    return clock, breaker, budget, p


def refused() -> None:
    raise ConnectionRefusedError("scripted")


def breaker_opens(clock: ManualClock, breaker: CircuitBreaker) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        breaker.force_open(clock.now())

    return sleep


def oversleeps(clock: ManualClock, breaker: CircuitBreaker) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        clock.sleep(seconds + 20.0)  # wakes after the 10 s deadline

    return sleep


def interrupted(clock: ManualClock, breaker: CircuitBreaker) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        clock.advance(seconds / 2)
        raise KeyboardInterrupt

    return sleep


def sleep_fails(clock: ManualClock, breaker: CircuitBreaker) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        raise RuntimeError("the sleep itself failed")

    return sleep


@pytest.mark.parametrize(
    ("make_sleep", "raised"),
    [
        (breaker_opens, BreakerOpenError),
        (oversleeps, DeadlineExceededError),
        (interrupted, KeyboardInterrupt),
        (sleep_fails, RuntimeError),
    ],
    ids=["breaker-refuses-the-retry", "deadline-after-the-wait", "cancel-during-the-wait", "driver-error"],
)
def test_an_abandoned_retry_returns_its_grant(
    make_sleep: Callable[[ManualClock, CircuitBreaker], Callable[[float], None]], raised: type[BaseException]
) -> None:
    clock, breaker, budget, p = edge()
    asked: list[float] = []
    inner = make_sleep(clock, breaker)

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        inner(seconds)

    driver = SyncDriver(p, clock=clock, sleep=sleep, wall=clock)
    with pytest.raises(raised):
        driver.call(refused)
    assert asked == [1.0], "the retry was granted and its wait begun"
    assert budget.available(clock.now()) == CAPACITY, "the abandoned retry's tokens were not returned"


def test_a_retry_that_runs_keeps_its_cost_and_a_refused_one_costs_nothing() -> None:
    clock, _breaker, budget, p = edge()
    driver = SyncDriver(p, clock=clock, sleep=clock.sleep, wall=clock)
    with pytest.raises(Exception, match="retries_exhausted"):
        driver.call(refused)
    # attempt 1 fails, retry 1 granted (10 -> 5), runs, fails; retry 2 granted (5 -> 0), runs, fails:
    # max_attempts reached. Both retries ran: their cost stays spent.
    assert budget.available(clock.now()) == 0.0
    assert clock.sleeps == [1.0, 1.0]


def test_cancel_during_the_wait_returns_the_grant_in_asyncio() -> None:
    clock, _breaker, budget, p = edge()

    async def never_wakes(seconds: float) -> None:
        raise asyncio.CancelledError

    async def call() -> None:
        refused()

    async def main() -> None:
        with pytest.raises(asyncio.CancelledError):
            await AsyncDriver(p, clock=clock, sleep=never_wakes, wall=clock).call(call)

    asyncio.run(main())
    assert budget.available(clock.now()) == CAPACITY
