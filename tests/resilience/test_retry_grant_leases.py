"""The paths that abandon a granted retry, counted lease by lease through recording proxies.

Every permit and grant the real breaker and budget hand out must be settled
exactly once: a permit by ``record``/``release``, a grant by the outcome of
the retry it paid for (``ran``) or by ``refund``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from leases import LeaseLedger, RecordingBreaker, RecordingBudget
from test_retry_grants import breaker_opens, edge, interrupted, oversleeps, refused, sleep_fails

from resilience.core import CircuitBreaker, ManualClock, Outcome, Pipeline
from resilience.drivers import BreakerOpenError, DeadlineExceededError, SyncDriver


def recorded_edge() -> tuple[ManualClock, CircuitBreaker, RecordingBudget, LeaseLedger, Pipeline]:
    clock, breaker, budget, p = edge()
    ledger = LeaseLedger()
    proxy = RecordingBudget(budget, ledger)
    rec = Pipeline(
        p.retry, breaker=RecordingBreaker(breaker, ledger), budget=proxy, rng=random.Random(1), name="edge"
    )
    return clock, breaker, proxy, ledger, rec


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
def test_every_lease_is_settled_exactly_once(
    make_sleep: Callable[[ManualClock, CircuitBreaker], Callable[[float], None]],
    raised: type[BaseException],
) -> None:
    clock, breaker, _proxy, ledger, p = recorded_edge()
    driver = SyncDriver(p, clock=clock, sleep=make_sleep(clock, breaker), wall=clock)
    with pytest.raises(raised):
        driver.call(refused)
    assert ledger.unsettled() == {} and ledger.bad == []
    assert ledger.issued == {"permit": 1, "grant": 1}
    assert ledger.settled == {"permit:record": 1, "grant:refund": 1}


def test_a_retry_cancelled_in_flight_settles_its_grant_with_the_outcome_and_releases_its_permit() -> None:
    clock, _breaker, _proxy, ledger, p = recorded_edge()
    calls = []

    def fn() -> None:
        calls.append(clock.now())
        if len(calls) == 2:
            raise KeyboardInterrupt
        refused()

    with pytest.raises(KeyboardInterrupt):
        SyncDriver(p, clock=clock, sleep=clock.sleep, wall=clock).call(fn)
    assert ledger.unsettled() == {} and ledger.bad == []
    assert ledger.settled == {"permit:record": 1, "permit:release": 1, "grant:ran": 1}


def test_cancel_of_an_execution_between_attempts_refunds_once() -> None:
    _clock, _breaker, _proxy, ledger, p = recorded_edge()
    ex = p.begin(0.0)
    ex.next(0.0)
    ex.next(0.1, Outcome.error("connection_refused", retryable=True))
    assert ledger.unsettled() == {"grant": 1}
    ex.cancel(0.5)
    ex.cancel(0.6)  # a second cancel settles nothing again
    assert ledger.unsettled() == {} and ledger.bad == []
    assert ledger.settled == {"permit:record": 1, "grant:refund": 1}
