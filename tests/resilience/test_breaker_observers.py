"""What observers see: metrics after a re-open, one consistent view, due transitions, listener errors."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from resilience.hooks import listener_errors
from resilience.outcome import Outcome
from resilience.protocols import Permit

C, OP, H = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
OK = Outcome.success()
ERR = Outcome.error("http_500", retryable=True)
CFG = BreakerConfig(window_size=10, minimum_calls=10, wait_in_open=5.0, permitted_calls_in_half_open=2)


def acquire(b: CircuitBreaker, now: float) -> Permit:
    permit = b.try_acquire(now)
    assert permit is not None, f"refused at {now}"
    return permit


def trip(b: CircuitBreaker, now: float = 0.0) -> None:
    for _ in range(10):
        b.record(acquire(b, now), now, 0.0, ERR)
    assert b.state is OP


def watched(config: BreakerConfig = CFG, **kw: Any) -> tuple[CircuitBreaker, list[tuple[Any, ...]]]:
    seen: list[tuple[Any, ...]] = []
    b = CircuitBreaker(config, name="db", state_listeners=[lambda n, a, z, t: seen.append((a, z, t))], **kw)
    return b, seen


# -- metrics after a re-open, and one view for state and counts ----------------------------------
def test_after_half_open_reopens_the_metrics_show_the_probes_that_reopened_it() -> None:
    b, _ = watched()
    trip(b)  # window: 10 of 10 failed
    p1, p2 = acquire(b, 5.0), acquire(b, 5.0)
    b.record(p1, 5.1, 0.1, OK)
    b.record(p2, 5.2, 0.2, ERR)  # 1 of 2 = 0.5: open again
    assert b.state is OP
    m = b.metrics()
    assert (m.failure_rate, m.window_calls, m.window_failures) == (0.5, 2, 1)
    assert b.metrics(6.0).failure_rate == 0.5 and b.counts(6.0).failure_rate == 0.5


def test_metrics_at_a_time_after_the_open_wait_describe_the_new_half_open_round() -> None:
    b, _ = watched()
    trip(b)
    m = b.metrics(6.0)  # half-open as of 6.0: no probe answered yet
    assert m.state is H
    assert (m.window_calls, m.failure_rate) == (0, 0.0)
    c = b.counts(6.0)
    assert (c.state, c.failure_rate) == (H, 0.0)
    assert b.state is OP  # looking changed nothing


def test_metrics_and_counts_agree_on_every_state_they_report() -> None:
    b, _ = watched(BreakerConfig(window_size=4, minimum_calls=4, wait_in_open=1.0, max_wait_in_half_open=0.5))
    now = 0.0
    for i in range(200):
        permit = b.try_acquire(now)
        if permit is not None and i % 5:
            b.record(permit, now, 0.0, ERR if i % 3 else OK)
        for t in (now, now + 0.3, now + 1.7):
            m, c = b.metrics(t), b.counts(t)
            assert (m.state, m.failure_rate, m.late) == (c.state, c.failure_rate, c.late)
            assert m.state is b.state_at(t)
        now += 0.13


# -- due transitions --------------------------------------------------------------------------
def test_open_to_half_open_is_stamped_at_the_end_of_the_wait_not_when_a_call_came() -> None:
    b, seen = watched()
    trip(b)
    acquire(b, 9.0)
    assert seen[-1] == (OP, H, 5.0)


def test_the_half_open_max_wait_runs_from_the_end_of_the_open_wait() -> None:
    b, seen = watched(BreakerConfig(**(CFG.to_dict() | {"max_wait_in_half_open": 2.0})))
    trip(b)
    acquire(b, 6.0)  # half-open since 5.0
    assert b.state_at(6.9) is H and b.state_at(7.0) is OP
    assert b.try_acquire(7.5) is None
    assert seen[-2:] == [(OP, H, 5.0), (H, OP, 7.0)] and b.open_until == 12.0


def test_tick_emits_due_transitions_and_changes_nothing_a_call_meets() -> None:
    cfg = BreakerConfig(**(CFG.to_dict() | {"max_wait_in_half_open": 1.0, "wait_jitter": 0.5}))
    ticked, ticked_seen = watched(cfg, rng=random.Random(7))
    lazy, lazy_seen = watched(cfg, rng=random.Random(7))
    for b in (ticked, lazy):
        trip(b)
    first_wait_end = ticked.open_until
    for k in range(1, 400):
        ticked.tick(k * 0.1)  # looks ten times a second
    assert ticked_seen[1] == (OP, H, first_wait_end)
    assert (ticked.try_acquire(40.0) is None) == (lazy.try_acquire(40.0) is None)
    assert ticked_seen == lazy_seen and len(lazy_seen) > 6
    assert ticked.open_until == lazy.open_until and ticked.generation == lazy.generation


def test_registry_tick_emits_due_transitions_of_every_breaker() -> None:
    seen: list[tuple[str, Any, Any, float]] = []
    r = BreakerRegistry(CFG, idle_ttl=60, state_listeners=[lambda *a: seen.append(a)])
    trip(r.get("a", 0.0))
    trip(r.get("b", 0.0), 2.0)
    r.get("c", 0.0)
    assert r.tick(6.0) == {"a": [(OP, H, 5.0)]}
    assert r.tick(8.0) == {"b": [(OP, H, 7.0)]}
    assert seen[-2:] == [("a", OP, H, 5.0), ("b", OP, H, 7.0)]
    assert r.get("a", 9.0).state is H


def test_half_open_can_close_when_its_max_wait_expires() -> None:
    cfg = BreakerConfig(
        **(CFG.to_dict() | {"max_wait_in_half_open": 2.0, "state_after_max_wait_in_half_open": "closed"})
    )
    b, _ = watched(cfg)
    trip(b)
    probe = acquire(b, 5.5)
    assert b.state_at(7.0) is C and b.metrics(7.0).window_calls == 0
    assert b.tick(7.0) == [(H, C, 7.0)]
    b.record(probe, 7.5, 2.0, ERR)  # late
    assert b.state is C and b.metrics().late == 1


# -- listeners ----------------------------------------------------------------------------------
def test_a_raising_listener_changes_no_decision(caplog: pytest.LogCaptureFixture) -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("listener bug")

    seen: list[tuple[Any, ...]] = []
    b = CircuitBreaker(
        CFG, name="flaky-listener", state_listeners=[boom, lambda n, a, z, t: seen.append((a, z, t))]
    )
    b.add_listener(boom)
    errors_before = listener_errors().get("flaky-listener", 0)
    raised: BaseException | None = None
    probe: Permit | None = None
    with caplog.at_level(logging.WARNING, logger="resilience"):
        try:
            trip(b)
            probe = b.try_acquire(5.0)  # the open -> half-open listeners raise here
        except RuntimeError as exc:
            raised = exc
    assert raised is None and probe is not None and probe.probe
    assert seen == [(C, OP, 0.0), (OP, H, 5.0)]  # the next listener still ran
    b.record(probe, 5.1, 0.1, OK)
    b.record(acquire(b, 5.1), 5.2, 0.1, OK)
    assert b.state is C
    assert listener_errors()["flaky-listener"] - errors_before == 6  # 3 transitions x 2 raising hooks
    warnings = [r for r in caplog.records if "flaky-listener" in r.getMessage()]
    assert len(warnings) <= 1  # once per (hook, exception type) per process
