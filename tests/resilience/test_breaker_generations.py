"""Permits and generations: a late outcome never decides a later state, on manual times.

A permit carries the generation of the breaker that granted it; every
transition (manual ones included) and every reset starts a new one. The
outcome or release of an earlier generation's permit is late: counted (by kind
and as ``late``), never entered in the window, never a vote in a half-open
round, never a freed probe permission.
"""

from __future__ import annotations

from typing import Any

from resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from resilience.outcome import Outcome
from resilience.protocols import Permit

C, OP, H, F, D = (
    BreakerState.CLOSED,
    BreakerState.OPEN,
    BreakerState.HALF_OPEN,
    BreakerState.FORCED_OPEN,
    BreakerState.DISABLED,
)
OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
NOT_FOUND = Outcome.error("http_404", retryable=False)


def make(**kw: Any) -> tuple[CircuitBreaker, list[tuple[BreakerState, BreakerState, float]]]:
    defaults: dict[str, Any] = dict(
        window_size=10, minimum_calls=10, wait_in_open=5.0, permitted_calls_in_half_open=2
    )
    seen: list[tuple[BreakerState, BreakerState, float]] = []
    b = CircuitBreaker(
        BreakerConfig(**(defaults | kw)),
        name="db",
        state_listeners=[lambda n, a, z, t: seen.append((a, z, t))],
    )
    return b, seen


def acquire(b: CircuitBreaker, now: float) -> Permit:
    permit = b.try_acquire(now)
    assert permit is not None, f"refused at {now}"
    return permit


def trip(b: CircuitBreaker, now: float = 0.0) -> None:
    while b.state is not OP:
        b.record(acquire(b, now), now, 0.0, ERR)


def test_permits_carry_the_generation_and_closed_ones_are_shared() -> None:
    b, _ = make()
    first = acquire(b, 0.0)
    assert acquire(b, 1.0) is first  # the closed fast path allocates nothing
    assert (first.generation, first.probe) == (b.generation, False)
    trip(b)
    probes = [acquire(b, 5.0), acquire(b, 5.0)]
    assert probes[0] is not probes[1] and all(p.probe for p in probes)
    assert {p.generation for p in probes} == {b.generation} and b.generation == first.generation + 2


def test_a_late_closed_era_failure_does_not_vote_in_the_half_open_round() -> None:
    b, seen = make()
    slow = acquire(b, 0.0)  # permitted while closed, answers after the trip
    trip(b)
    p1, p2 = acquire(b, 6.0), acquire(b, 6.0)
    b.record(slow, 6.05, 6.05, ERR)  # late
    b.record(p1, 6.1, 0.1, OK)
    assert b.state is H  # one of two probes answered (the late failure counted as a probe: 1/2 opened)
    b.record(p2, 6.2, 0.2, OK)
    assert b.state is C and seen[-1] == (H, C, 6.2)
    m = b.metrics()
    assert (m.late, m.failed, m.successful) == (1, 11, 2)


def test_a_late_release_does_not_free_a_probe_permission() -> None:
    b, _ = make(permitted_calls_in_half_open=1)
    held = acquire(b, 0.0)
    trip(b)
    acquire(b, 6.0)  # the one probe
    b.release(held, 6.1)  # late: it never held a probe permission
    assert b.try_acquire(6.2) is None
    m = b.metrics()
    assert (m.released, m.late, m.not_permitted) == (1, 1, 1)


def test_a_late_ignored_outcome_does_not_free_a_probe_permission() -> None:
    b, _ = make(permitted_calls_in_half_open=1, ignored_evidence=("http_404",))
    held = acquire(b, 0.0)
    trip(b)
    acquire(b, 6.0)
    b.record(held, 6.1, 6.1, NOT_FOUND)
    assert b.try_acquire(6.2) is None
    assert (b.metrics().ignored, b.metrics().late) == (1, 1)


def test_a_late_outcome_of_an_earlier_half_open_round_does_not_decide_the_next() -> None:
    b, seen = make(max_wait_in_half_open=1.0)
    trip(b)
    old_probe = acquire(b, 5.0)  # round 1: half-open 5.0 .. 6.0
    assert b.try_acquire(6.0) is None  # the round took too long: open again until 11.0
    assert seen[-1] == (H, OP, 6.0) and b.open_until == 11.0
    q1, q2 = acquire(b, 11.0), acquire(b, 11.0)  # round 2
    b.record(old_probe, 11.1, 6.1, ERR)  # late
    b.record(q1, 11.2, 0.2, OK)
    assert b.state is H
    b.record(q2, 11.3, 0.3, OK)
    assert b.state is C and b.metrics().late == 1


def test_a_late_failure_after_closing_does_not_enter_the_new_window() -> None:
    b, _ = make(consecutive_failures=1)
    held = acquire(b, 0.0)
    trip(b)
    b.record(acquire(b, 5.0), 5.0, 0.0, OK)
    b.record(acquire(b, 5.0), 5.0, 0.0, OK)
    assert b.state is C
    b.record(held, 5.5, 5.5, ERR)  # one failure in a row would trip: but it is late
    assert b.state is C and b.metrics().window_calls == 0
    assert (b.metrics().failed, b.metrics().late) == (2, 1)


def test_manual_transitions_start_a_new_generation_too() -> None:
    b, _ = make(consecutive_failures=1)
    before_force = acquire(b, 0.0)
    b.force_open(1.0)
    b.reset(2.0)
    b.record(before_force, 3.0, 3.0, ERR)
    assert b.state is C and b.metrics().window_calls == 0
    before_reset = acquire(b, 4.0)
    b.reset(5.0)  # already closed: no transition, but the permits out are outdated
    b.record(before_reset, 6.0, 2.0, ERR)
    assert b.state is C and b.metrics().late == 2


def test_disabled_era_permits_are_late_after_reset() -> None:
    b, _ = make(consecutive_failures=1)
    b.disable(0.0)
    bypassed = acquire(b, 1.0)
    b.reset(2.0)
    b.record(bypassed, 3.0, 2.0, ERR)
    assert b.state is C and b.metrics().late == 1


def test_counts_expose_late_outcomes_with_the_state_of_the_same_view() -> None:
    b, _ = make()
    held = acquire(b, 0.0)
    trip(b)
    b.record(held, 1.0, 1.0, OK)
    c = b.counts(2.0)
    assert (c.state, c.late, c.kinds) == (OP, 1, (1, 10, 0, 0, 0, 0))
    assert c.failure_rate == 1.0  # the window that tripped it; the late success is not in it
