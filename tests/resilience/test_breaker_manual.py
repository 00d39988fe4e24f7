"""Manual transitions, the retry-after hint, break-duration functions and the transition table."""

from __future__ import annotations

import math
from typing import Any

import pytest

from resilience.breaker import ALLOWED_TRANSITIONS, BreakerConfig, BreakerState, CircuitBreaker, machine
from resilience.core import ConfigError
from resilience.hooks import listener_errors
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


def make(**kw: Any) -> tuple[CircuitBreaker, list[tuple[Any, ...]]]:
    defaults: dict[str, Any] = dict(
        window_size=2, minimum_calls=2, wait_in_open=5.0, permitted_calls_in_half_open=1
    )
    seen: list[tuple[Any, ...]] = []
    duration = kw.pop("break_duration", None)
    name = kw.pop("name", "db")
    b = CircuitBreaker(
        BreakerConfig(**(defaults | kw)),
        name=name,
        state_listeners=[lambda n, a, z, t: seen.append((a, z, t))],
        break_duration=duration,
    )
    return b, seen


def acquire(b: CircuitBreaker, now: float) -> Permit:
    permit = b.try_acquire(now)
    assert permit is not None, f"refused at {now}"
    return permit


def fail_probe(b: CircuitBreaker, now: float) -> None:
    b.record(acquire(b, now), now, 0.0, ERR)


# -- manual transitions ------------------------------------------------------------------------
def test_transition_to_open_until_a_time() -> None:
    b, seen = make()
    held = acquire(b, 0.0)
    b.transition_to_open(1.0, until=30.0)
    assert (b.state, b.open_until, seen) == (OP, 30.0, [(C, OP, 1.0)])
    assert b.state_at(29.9) is OP and b.state_at(30.0) is H
    b.record(held, 2.0, 2.0, ERR)
    assert b.metrics().late == 1
    b.transition_to_open(3.0, until=40.0)  # already open: moves the end of the wait only
    assert b.open_until == 40.0 and len(seen) == 1


def test_transition_to_open_for_the_next_escalating_wait_and_until_forever() -> None:
    b, _ = make(wait_multiplier=2.0, wait_max=100.0)
    b.transition_to_open(0.0)
    assert b.open_until == 5.0
    fail_probe(b, 5.0)  # the second open in a row
    assert b.open_until == 15.0
    b.reset(16.0)
    b.transition_to_open(20.0, until=math.inf)
    assert b.state_at(1e12) is OP and b.seconds_until_probe(1e12) is None


@pytest.mark.parametrize("until", [0.5, math.nan])
def test_transition_to_open_refuses_an_end_before_now(until: float) -> None:
    b, _ = make()
    with pytest.raises(ValueError, match="until"):
        b.transition_to_open(1.0, until=until)
    assert b.state is C


def test_transition_to_half_open_starts_a_round_now() -> None:
    b, seen = make()
    b.force_open(1.0)
    b.transition_to_half_open(2.0)
    assert b.state is H and seen[-1] == (F, H, 2.0)
    probe = acquire(b, 2.0)
    assert probe.probe and b.try_acquire(2.0) is None
    b.record(probe, 2.1, 0.1, OK)
    assert b.state is C


def test_transition_to_half_open_from_closed_is_refused_by_the_transition_table() -> None:
    b, seen = make()
    assert (C, H) not in ALLOWED_TRANSITIONS
    with pytest.raises(ValueError, match="closed -> half_open is not an allowed transition"):
        b.transition_to_half_open(1.0)
    assert b.state is C and seen == []


def test_the_transition_table_drives_every_move(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take closed -> open out of the table: the breaker may no longer trip."""
    monkeypatch.setattr(machine, "ALLOWED_TRANSITIONS", ALLOWED_TRANSITIONS - {(C, OP)})
    b, _ = make()
    b.record(acquire(b, 0.0), 0.0, 0.0, ERR)
    with pytest.raises(ValueError, match="closed -> open is not an allowed transition"):
        b.record(acquire(b, 0.0), 0.0, 0.0, ERR)


def test_a_refused_manual_move_still_reports_the_due_transitions_before_it() -> None:
    b, seen = make()
    b.transition_to_open(0.0)
    with pytest.raises(ValueError):
        b.transition_to_open(6.0, until=5.0)
    b.transition_to_half_open(7.0)  # half-open since 5.0 already: a no-op
    assert seen == [(C, OP, 0.0), (OP, H, 5.0)]


# -- the retry-after hint ----------------------------------------------------------------------
def test_seconds_until_probe_in_every_state() -> None:
    b, _ = make()
    assert b.seconds_until_probe(0.0) == 0.0
    b.transition_to_open(1.0)
    assert b.seconds_until_probe(2.5) == 3.5
    assert b.seconds_until_probe(6.0) == 0.0  # the wait is over: a probe would be permitted
    acquire(b, 6.0)
    assert b.seconds_until_probe(6.0) is None  # every probe permission is out
    b.force_open(7.0)
    assert b.seconds_until_probe(7.0) is None
    b.disable(8.0)
    assert b.seconds_until_probe(8.0) == 0.0


# -- break duration ----------------------------------------------------------------------------
def test_a_break_duration_function_sets_escalating_open_waits() -> None:
    waits = [1.0, 5.0, 30.0]
    b, _ = make(break_duration=lambda k: waits[min(k, len(waits)) - 1])
    b.transition_to_open(0.0)
    ends = [b.open_until]
    for _ in range(3):
        fail_probe(b, b.open_until)
        ends.append(b.open_until)
    assert [y - x for x, y in zip([0.0, *ends], ends, strict=False)] == [1.0, 5.0, 30.0, 30.0]
    b.record(acquire(b, b.open_until), b.open_until, 0.0, OK)  # closes: the streak ends
    b.transition_to_open(100.0)
    assert b.open_until == 101.0


@pytest.mark.parametrize("bad", [lambda k: 1 / 0, lambda k: -1.0, lambda k: math.inf])
def test_a_failing_break_duration_falls_back_to_wait_in_open_and_is_counted(bad: Any) -> None:
    b, _ = make(break_duration=bad, name="bad-duration")
    before = listener_errors().get("bad-duration", 0)
    b.transition_to_open(0.0)
    assert b.open_until == 5.0
    assert listener_errors()["bad-duration"] == before + 1


def test_break_duration_must_be_callable() -> None:
    with pytest.raises(TypeError, match="break_duration must be callable"):
        CircuitBreaker(break_duration=5.0)  # type: ignore[arg-type]


# -- config ------------------------------------------------------------------------------------
def test_state_after_max_wait_round_trips_and_is_checked() -> None:
    cfg = BreakerConfig(max_wait_in_half_open=3.0, state_after_max_wait_in_half_open="closed")
    assert cfg.state_after_max_wait_in_half_open is C
    assert cfg.to_dict()["state_after_max_wait_in_half_open"] == "closed"
    assert BreakerConfig.from_dict(cfg.to_dict()) == cfg
    assert BreakerConfig().state_after_max_wait_in_half_open is OP
    with pytest.raises(ConfigError) as e:
        BreakerConfig(state_after_max_wait_in_half_open="forced_open")
    assert (
        str(e.value)
        == "BreakerConfig.state_after_max_wait_in_half_open='forced_open': must be open or closed"
    )
