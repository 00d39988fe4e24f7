"""CircuitBreaker: every transition and each documented semantic choice, on manual times.

Generations, late outcomes, due transitions and manual transitions are in
``test_breaker_generations.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from resilience.core import EventKind, FailureReason, GiveUp, Outcome, Pipeline, RetryConfig, TraceEvent
from resilience.outcome import CANCELLED, OutcomeKind
from resilience.protocols import BreakerLike, Permit

C, OP, H, F, D = (
    BreakerState.CLOSED,
    BreakerState.OPEN,
    BreakerState.HALF_OPEN,
    BreakerState.FORCED_OPEN,
    BreakerState.DISABLED,
)
OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
TIMEOUT = Outcome.timeout()
SHED = Outcome.rejected("http_503")


class FixedRng:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def make(
    **kw: Any,
) -> tuple[CircuitBreaker, list[tuple[str, BreakerState, BreakerState, float]], list[TraceEvent]]:
    defaults: dict[str, Any] = dict(
        window_size=10, minimum_calls=10, wait_in_open=5.0, permitted_calls_in_half_open=2
    )
    rng = kw.pop("rng", None)
    seen: list[tuple[str, BreakerState, BreakerState, float]] = []
    events: list[TraceEvent] = []
    b = CircuitBreaker(
        BreakerConfig(**(defaults | kw)),
        name="db",
        rng=rng,
        state_listeners=[lambda *a: seen.append(a)],
        listeners=[lambda src, ev: events.append(ev)],
    )
    return b, seen, events


def call(b: CircuitBreaker, now: float, outcome: Outcome = OK, duration: float = 0.01) -> bool:
    permit = b.try_acquire(now)
    if permit is None:
        return False
    b.record(permit, now + duration, duration, outcome)
    return True


def acquire(b: CircuitBreaker, now: float) -> Permit:
    permit = b.try_acquire(now)
    assert permit is not None, f"refused at {now}"
    return permit


def trip(b: CircuitBreaker, now: float = 0.0, n: int = 10) -> None:
    for _ in range(n):
        call(b, now, ERR)
    assert b.state is OP


def test_is_a_breaker_like() -> None:
    b: BreakerLike = CircuitBreaker()
    assert b.name == "default" and isinstance(b.try_acquire(0.0), Permit)


def test_closed_to_open_when_the_failure_rate_reaches_the_threshold_with_minimum_calls() -> None:
    b, seen, events = make()
    for i in range(5):
        call(b, float(i), ERR)
    for i in range(4):
        call(b, 5.0 + i, OK)
    assert b.state is C  # 9 calls < minimum_calls although 5/9 failed
    call(b, 9.0, OK)  # 5/10 = 0.5 reaches the threshold: trips on a success
    assert b.state is OP
    assert seen == [("db", C, OP, 9.01)]
    assert events == [TraceEvent(9.01, EventKind.STATE, 0, "closed->open")]
    m = b.metrics()
    assert (m.failure_rate, m.window_calls, m.successful, m.failed) == (0.5, 10, 5, 5)


def test_trip_is_checked_after_successes_too() -> None:
    """resilience4j style: the 10th call, a success, reaches minimum_calls and trips (gobreaker: no)."""
    b, _, _ = make()
    for _ in range(9):
        call(b, 0.0, ERR)
    assert b.state is C
    call(b, 0.0, OK)
    assert b.state is OP


def test_below_threshold_stays_closed() -> None:
    b, _, _ = make()
    for i in range(40):
        call(b, float(i), ERR if i % 3 == 0 else OK)  # at most 4 of any 10 consecutive
    assert b.state is C and b.metrics().failure_rate == 0.4


def test_slow_successes_alone_can_trip() -> None:
    b, _, _ = make(slow_call_duration=1.0, slow_call_rate_threshold=0.6)
    for _ in range(6):
        call(b, 0.0, OK, duration=1.5)
    for _ in range(3):
        call(b, 0.0, OK, duration=0.1)
    assert b.state is C
    call(b, 0.0, OK, duration=0.1)  # 6 slow of 10 = 0.6
    assert b.state is OP
    m = b.metrics()
    assert (m.slow_successful, m.successful, m.failed, m.slow_call_rate, m.failure_rate) == (
        6,
        4,
        0,
        0.6,
        0.0,
    )


def test_duration_equal_to_slow_call_duration_is_slow() -> None:
    b, _, _ = make(slow_call_duration=1.0)
    call(b, 0.0, OK, duration=1.0)
    call(b, 0.0, TIMEOUT, duration=1.0)
    call(b, 0.0, OK, duration=0.999)
    m = b.metrics()
    assert (m.slow_successful, m.slow_failed, m.successful) == (1, 1, 1)
    assert m.window_slow == 2


def test_open_rejects_and_counts_not_permitted() -> None:
    b, _, _ = make()
    trip(b)
    assert [b.try_acquire(t) for t in (0.0, 1.0, 4.999)] == [None, None, None]
    assert b.metrics().not_permitted == 3


def test_open_to_half_open_exactly_at_opened_at_plus_wait() -> None:
    """We use >= (resilience4j: strictly after): a request at exactly the boundary probes."""
    b, seen, _ = make()
    trip(b, now=100.0)
    assert b.open_until == 105.01
    assert b.try_acquire(105.0) is None
    assert b.try_acquire(105.01) is not None
    assert b.state is H and seen[-1] == ("db", OP, H, 105.01)


def test_state_at_reports_without_changing_anything() -> None:
    b, seen, _ = make(max_wait_in_half_open=3.0)
    trip(b)
    n = len(seen)
    assert b.state_at(4.0) is OP and b.state_at(5.01) is H
    assert b.state is OP and len(seen) == n
    acquire(b, 6.0)  # half-open since 5.01, the end of the open wait: the max wait runs from there
    assert b.state_at(8.0) is H and b.state_at(8.01) is OP and b.state is H


def test_half_open_permits_only_the_probes_then_closes_on_success() -> None:
    b, seen, _ = make(permitted_calls_in_half_open=3)
    trip(b)
    permits = [b.try_acquire(6.0) for _ in range(4)]
    assert [p is not None and p.probe for p in permits] == [True, True, True, False]
    p1, p2, p3, _ = permits
    assert p1 is not None and p2 is not None and p3 is not None
    b.record(p1, 6.1, 0.1, OK)
    b.record(p2, 6.2, 0.2, ERR)
    assert b.state is H  # judged only when all 3 outcomes are in
    assert b.metrics().failure_rate == 0.5
    b.record(p3, 6.3, 0.3, OK)  # 1 of 3 failed < 0.5
    assert b.state is C and seen[-1] == ("db", H, C, 6.3)
    assert b.metrics().window_calls == 0  # closing resets the window
    assert b.metrics().not_permitted == 1


def test_half_open_reopens_when_the_probes_fail() -> None:
    b, seen, _ = make()
    trip(b)
    p1, p2 = acquire(b, 6.0), acquire(b, 6.0)
    b.record(p1, 6.5, 0.5, OK)
    b.record(p2, 7.0, 1.0, ERR)  # 1 of 2 = 0.5 reaches the threshold
    assert b.state is OP and seen[-1] == ("db", H, OP, 7.0)
    assert b.open_until == 12.0


def test_half_open_judges_slow_probes() -> None:
    b, _, _ = make(slow_call_duration=0.5, slow_call_rate_threshold=1.0)
    trip(b)
    probes = [acquire(b, 6.0) for _ in range(2)]
    b.record(probes[0], 7.0, 1.0, OK)
    b.record(probes[1], 7.0, 1.0, OK)
    assert b.state is OP


def test_max_wait_in_half_open_reopens() -> None:
    b, seen, _ = make(max_wait_in_half_open=2.0)
    trip(b)
    acquire(b, 6.0)  # half-open since 5.01 (the end of the open wait); this probe never answers
    acquire(b, 7.0)
    assert b.try_acquire(7.005) is None  # both permissions taken
    assert b.try_acquire(7.01) is None  # max wait over (5.01 + 2): open again
    assert b.state is OP and seen[-1] == ("db", H, OP, pytest.approx(7.01))
    assert b.open_until == pytest.approx(12.01)


def test_a_probe_answering_after_max_wait_reopens_first() -> None:
    b, _, _ = make(max_wait_in_half_open=2.0)
    trip(b)
    probe = acquire(b, 6.0)
    b.record(probe, 9.0, 3.0, OK)  # the breaker re-opened at 7.01 (5.01 + 2); this outcome is late
    assert b.state is OP and b.open_until == pytest.approx(12.01)
    assert (b.metrics().successful, b.metrics().late) == (1, 1)


def test_unbounded_half_open_waits_for_its_probes() -> None:
    b, _, _ = make()
    trip(b)
    probe = acquire(b, 6.0)
    assert b.state_at(1e9) is H
    b.record(probe, 1e9, 1.0, OK)
    assert b.state is H


def test_open_wait_grows_per_consecutive_open_and_is_capped() -> None:
    b, _, _ = make(wait_in_open=10, wait_multiplier=2, wait_max=35, permitted_calls_in_half_open=1)
    trip(b, now=0.0)
    assert b.open_until == 10.01
    waits = []
    now = b.open_until
    for _ in range(3):
        b.record(acquire(b, now), now, 0.0, ERR)  # probe fails: open again
        waits.append(b.open_until - now)
        now = b.open_until
    assert waits == pytest.approx([20.0, 35.0, 35.0])
    b.record(acquire(b, now), now, 0.0, OK)  # closes: the streak ends
    trip(b, now=now)
    assert b.open_until - now == pytest.approx(10.0 + 0.01)


@pytest.mark.parametrize(("draw", "factor"), [(0.0, 0.8), (0.5, 1.0), (0.9999, 1.19996)])
def test_open_wait_jitter_is_proportional_and_drawn_from_the_rng(draw: float, factor: float) -> None:
    b, _, _ = make(wait_in_open=10, wait_jitter=0.2, rng=FixedRng(draw))
    for _ in range(10):
        call(b, 0.0, ERR, duration=0.0)
    assert b.open_until == pytest.approx(10.0 * factor)


def test_open_wait_jitter_applies_after_the_cap() -> None:
    b, _, _ = make(
        wait_in_open=10,
        wait_multiplier=2,
        wait_max=15,
        wait_jitter=0.2,
        rng=FixedRng(0.9999),
        permitted_calls_in_half_open=1,
    )
    trip(b, now=0.0)
    now = b.open_until
    b.record(acquire(b, now), now, 0.0, ERR)  # the probe fails: the second open waits min(20, 15), jittered
    assert b.open_until - now == pytest.approx(15.0 * 1.19996)


def test_half_open_probes_are_judged_by_rate_not_by_consecutive_failures() -> None:
    b, seen, _ = make(consecutive_failures=2, permitted_calls_in_half_open=4, failure_rate_threshold=0.75)
    trip(b)
    probes = [acquire(b, 6.0) for _ in range(4)]
    b.record(probes[0], 6.1, 0.1, ERR)
    b.record(probes[1], 6.2, 0.1, ERR)  # two in a row would trip a closed breaker
    assert b.state is H
    b.record(probes[2], 6.3, 0.1, OK)
    b.record(probes[3], 6.4, 0.1, OK)  # 2 of 4 failed < 0.75
    assert b.state is C and seen[-1] == ("db", H, C, 6.4)


def test_jitter_needs_an_rng() -> None:
    with pytest.raises(ValueError, match="wait_jitter > 0 needs an rng"):
        CircuitBreaker(BreakerConfig(wait_jitter=0.1))


def test_cancelled_is_never_recorded_and_frees_a_half_open_permission() -> None:
    b, _, _ = make(permitted_calls_in_half_open=1)
    trip(b)
    probe = acquire(b, 6.0)
    assert b.try_acquire(6.0) is None
    b.record(probe, 6.5, 0.5, CANCELLED)
    probe = acquire(b, 6.5)
    b.release(probe, 7.0)
    acquire(b, 7.0)
    m = b.metrics()
    assert (m.released, m.recorded, m.window_calls, b.state) == (2, 10, 0, H)


def test_cancelled_in_closed_state_leaves_the_window_alone() -> None:
    b, _, _ = make()
    for _ in range(20):
        b.record(acquire(b, 0.0), 0.0, 5.0, CANCELLED)
    assert b.state is C and b.metrics().window_calls == 0 and b.metrics().released == 20


def test_ignored_evidence_is_not_recorded_and_frees_a_half_open_permission() -> None:
    not_found = Outcome.error("http_404", retryable=False)
    b, _, _ = make(ignored_evidence=("http_404",), permitted_calls_in_half_open=1)
    for _ in range(30):
        call(b, 0.0, not_found)
    assert b.state is C and b.metrics().window_calls == 0 and b.metrics().ignored == 30
    trip(b)
    probe = acquire(b, 6.0)
    assert b.try_acquire(6.0) is None
    b.record(probe, 6.0, 0.0, not_found)
    b.record(acquire(b, 6.0), 6.0, 0.0, OK)
    assert b.state is C


def test_kinds_outside_record_kinds_count_as_successes() -> None:
    b, _, _ = make(record_kinds=("error", "timeout"))
    for _ in range(20):
        call(b, 0.0, SHED)
    m = b.metrics()
    assert b.state is C and (m.successful, m.failed, m.failure_rate) == (20, 0, 0.0)
    for _ in range(10):
        call(b, 0.0, TIMEOUT)
    assert b.state is OP


def test_consecutive_failures_trip_below_minimum_calls() -> None:
    b, seen, _ = make(window_size=100, minimum_calls=100, consecutive_failures=3)
    call(b, 0.0, ERR)
    call(b, 1.0, ERR)
    call(b, 2.0, OK, duration=9.0)  # any success, slow or not, ends the run
    call(b, 3.0, ERR)
    call(b, 4.0, TIMEOUT)
    assert b.state is C
    call(b, 5.0, SHED)
    assert b.state is OP and seen == [("db", C, OP, 5.01)]


def test_outcomes_arriving_while_open_are_counted_but_judge_nothing() -> None:
    b, _, _ = make()
    slow = acquire(b, 0.0)  # a slow call leaves while closed
    trip(b, now=0.0)
    b.record(slow, 3.0, 3.0, OK)
    m = b.metrics()
    assert b.state is OP and m.successful == 1 and m.window_calls == 10 and m.late == 1


def test_forced_open_rejects_everything_until_reset() -> None:
    b, seen, events = make()
    b.force_open(1.0)
    assert b.state is F and b.try_acquire(1e9) is None
    assert b.state_at(1e9) is F
    b.reset(2e9)
    assert b.state is C and b.try_acquire(2e9) is not None
    assert seen == [("db", C, F, 1.0), ("db", F, C, 2e9)]
    assert [e.label for e in events] == ["closed->forced_open", "forced_open->closed"]
    assert b.metrics().not_permitted == 1


def test_disabled_permits_everything_and_records_nothing() -> None:
    b, seen, _ = make()
    trip(b)
    b.disable(1.0)
    before = b.metrics()
    for _ in range(50):
        b.record(acquire(b, 2.0), 2.0, 1.0, ERR)
        b.release(acquire(b, 2.0), 2.0)
    after = b.metrics()
    assert b.state is D
    assert (after.failed, after.not_permitted, after.released) == (before.failed, before.not_permitted, 0)
    b.force_open(3.0)
    b.disable(4.0)
    b.reset(5.0)
    assert [(a, z) for _, a, z, _ in seen] == [(C, OP), (OP, D), (D, F), (F, D), (D, C)]


def test_reset_clears_the_window_and_the_open_streak_but_keeps_counters() -> None:
    b, seen, _ = make(wait_in_open=10, wait_multiplier=3, wait_max=100, permitted_calls_in_half_open=1)
    trip(b)
    call(b, 20.0, ERR)  # re-open: 30 s wait
    assert b.open_until == pytest.approx(20.01 + 30.0)
    b.reset(21.0)
    assert b.state is C and b.metrics().window_calls == 0 and b.metrics().failed == 11
    trip(b, now=22.0)
    assert b.open_until == pytest.approx(32.01)
    n = len(seen)
    b.reset(23.0)
    b.reset(23.0)  # already closed: clears the window, no transition
    assert len(seen) == n + 1


def test_metrics_snapshot() -> None:
    b, _, _ = make(slow_call_duration=1.0)
    call(b, 0.0, OK)
    call(b, 0.0, ERR)
    call(b, 0.0, OK, duration=2.0)
    call(b, 0.0, TIMEOUT, duration=2.0)
    m = b.metrics()
    assert m.calls_by_kind() == {
        "successful": 1,
        "failed": 1,
        "slow_successful": 1,
        "slow_failed": 1,
        "ignored": 0,
        "not_permitted": 0,
    }
    assert (m.failure_rate, m.slow_call_rate, m.recorded) == (0.5, 0.5, 4)
    assert m.state_one_hot() == {"closed": 1, "open": 0, "half_open": 0, "forced_open": 0, "disabled": 0}
    trip(b)
    assert b.metrics().failure_rate >= 0.5  # kept while open: it shows why the breaker tripped
    assert b.metrics(now=100.0).state is H and b.state is OP
    assert b.metrics().transitions == {(C, OP): 1}


def test_time_window_breaker_forgets_old_failures() -> None:
    b, _, _ = make(window_type="time", window_size=10, bucket_seconds=1, minimum_calls=5)
    for t in range(4):
        call(b, float(t), ERR)
    for t in range(20, 24):
        call(b, float(t), OK)  # the failures have expired
    assert b.state is C and b.metrics().window_calls == 4
    assert b.metrics(now=40.0).window_calls == 0
    for t in range(25, 29):
        call(b, float(t), ERR)
    assert b.state is OP  # 4 failures of 8 calls within 10 s
    assert b.window_check()


def test_listeners_may_call_back_into_the_breaker() -> None:
    seen: list[BreakerState] = []
    b = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2))
    b.add_state_listener(lambda name, a, z, now: seen.append(b.state_at(now)))
    b.add_listener(lambda src, ev: seen.append(b.metrics().state))
    call(b, 0.0, ERR)
    call(b, 0.0, ERR)
    assert seen == [OP, OP]


def test_drives_a_pipeline_to_breaker_open() -> None:
    b = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2, wait_in_open=30), name="api")
    p = Pipeline(RetryConfig(max_attempts=1), breaker=b, name="api")
    for now in (0.0, 1.0):
        ex = p.begin(now)
        ex.next(now)
        ex.next(now + 0.1, ERR)
    ex = p.begin(2.0)
    step = ex.next(2.0)
    assert isinstance(step, GiveUp) and step.reason is FailureReason.BREAKER_OPEN
    assert b.metrics().not_permitted == 1
    ex = p.begin(31.1)
    step = ex.next(31.1)
    assert b.state is H
    ex.next(31.2, OK)
    assert b.state is H  # one of two probes
    ex = p.begin(31.3)
    ex.next(31.3)
    ex.next(31.4, Outcome(OutcomeKind.CANCELLED, False, "cancelled"))  # execution releases
    assert b.metrics().released == 1


def test_counts_agree_with_the_metrics_snapshot_in_every_state() -> None:
    breaker = CircuitBreaker(
        BreakerConfig(
            window_type="time",
            window_size=4,
            bucket_seconds=1,
            minimum_calls=4,
            wait_in_open=2,
            permitted_calls_in_half_open=2,
            slow_call_duration=0.5,
        )
    )
    err = Outcome.error("http_500", retryable=True)
    seen_states = set()
    now = 0.0
    for i in range(40):
        permit = breaker.try_acquire(now)
        if permit is not None:
            breaker.record(permit, now, 0.6 if i % 3 else 0.1, err if i % 4 < 2 else Outcome.success())
        m = breaker.metrics(now)
        seen_states.add(m.state)
        state, counts, late, failure_rate, slow_rate = breaker.counts(now)
        kinds = m.calls_by_kind()
        assert counts == tuple(
            kinds[k]
            for k in ("successful", "failed", "slow_successful", "slow_failed", "ignored", "not_permitted")
        )
        assert (state, late, failure_rate, slow_rate) == (m.state, m.late, m.failure_rate, m.slow_call_rate)
        now += 0.4
    assert {BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN} <= seen_states
