"""Deadlines travel down the graph: each hop receives the time left minus the edge's reserve, in the
library's wire form; expired work is not started; every timeout names the tier whose timer fired."""

from __future__ import annotations

from typing import Any

import pytest
from graphcase import chain, model, run

from resilience.deadline import Deadline
from resilience.timeouts.propagation import PropagationConfig, outgoing_headers


def received(data: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(tier, arrival time, budget received) for every attempt reaching a tier, in order."""
    m = model(data)
    seen: list[tuple[str, float, float]] = []
    for name, tier in m.tiers.items():
        original = tier.arrive

        def arrive(v: Any, now: float, name: str = name, original: Any = original) -> None:
            seen.append((name, now, v.budget_end - now))
            original(v, now)

        tier.arrive = arrive  # type: ignore[method-assign]
    m.env.run(until=m.sc.duration)
    return seen


def wire(parent_end: float, now: float, reserve: float) -> float:
    """The budget the library's propagation headers would carry, in seconds."""
    headers = outgoing_headers(Deadline(parent_end), now, config=PropagationConfig(per_hop_reserve=reserve))
    return int(headers["X-Request-Deadline-Ms"]) / 1000


def test_each_hop_receives_the_time_left_minus_the_reserve() -> None:
    data = chain(
        {"a": 0.01, "b": 0.02, "c": 0.0},
        client={"retry": {"max_attempts": 1, "attempt_timeout": 1.0}},
        a_b={"reserve": 0.05},
        b_c={"reserve": 0.1},
    )
    seen = received(data)
    assert [s[0] for s in seen] == ["a", "b", "c"]
    (_, ta, ba), (_, tb, bb), (_, tc, bc) = seen
    assert (ta, ba) == (0.0, 1.0)
    assert tb == pytest.approx(0.01) and tc == pytest.approx(0.03)
    assert bb == pytest.approx(wire(ta + ba, tb, 0.05), abs=1e-9)
    assert bc == pytest.approx(wire(tb + bb, tc, 0.1), abs=1e-9)
    assert [ba, bb, bc] == pytest.approx([1.0, 0.94, 0.82], abs=1e-9)


def test_an_attempt_timeout_bounds_what_the_hop_receives() -> None:
    data = chain(
        {"a": 0.0, "b": 0.0},
        client={"retry": {"max_attempts": 1, "attempt_timeout": 1.0}},
        a_b={"reserve": 0.05, "retry": {"max_attempts": 1, "attempt_timeout": 0.3}},
    )
    assert [round(s[2], 9) for s in received(data)] == [1.0, 0.25]


def queued_behind(reserve: float) -> dict[str, Any]:
    """Two requests at t = 1 through ``a`` to ``b`` (one worker, 0.75 s each): the second waits."""
    data = chain(
        {"a": 0.0, "b": 0.75},
        client={"retry": {"max_attempts": 1, "attempt_timeout": 0.8}},
        a_b={"reserve": reserve},
    )
    data["services"]["b"]["workers"] = 1
    data["clients"]["web"]["workload"] = {"type": "burst", "rate": 0.0, "at": 1.0, "count": 2, "spread": 0.0}
    return data


def test_work_whose_deadline_passed_is_not_started_and_the_backend_is_the_source() -> None:
    r = run(queued_behind(0.1))
    s = r.summary
    b = s["tiers"]["b"]
    assert (b["served"], b["deadline_expired"]) == (1, 1)  # the second never took the worker
    assert (s["successes"], sum(s["failures"].values())) == (1, 1)
    assert s["timeouts"]["backend"] == {"deadline": 1}
    assert s["timeouts"]["gateway"] == {} and s["timeouts"]["client"] == {}
    ((t, trace, source, tier, phase),) = r.root_causes
    assert (t, source, tier, phase) == (pytest.approx(1.75), "backend", "b", "deadline")
    assert len(trace) == 16 and int(trace, 16) >= 0


def test_without_a_reserve_the_backend_starts_work_its_caller_abandons() -> None:
    """Negative control: no reserve, so b's deadline is its caller's; b starts the second request's
    work, and the callers' timers (client and gateway, both at 1.8 s) end it instead."""
    r = run(queued_behind(0.0))
    s = r.summary
    assert s["tiers"]["b"]["deadline_expired"] == 0
    assert s["tiers"]["b"]["served"] == 2
    assert s["timeouts"]["backend"] == {}
    ((t, _, source, _, _),) = r.root_causes
    assert t == pytest.approx(1.8) and source in ("client", "gateway")


def test_the_client_is_the_source_when_its_timer_fires_first() -> None:
    data = chain({"a": 0.5, "b": 0.0}, client={"retry": {"max_attempts": 1, "attempt_timeout": 0.2}})
    r = run(data)
    s = r.summary
    assert s["timeouts"]["client"] == {"attempt": 1}
    assert s["tiers"]["b"]["arrivals"] == 0  # a found the deadline passed before its step
    assert s["tiers"]["a"]["expired_before_step"] == 1
    ((t, _, source, tier, phase),) = r.root_causes
    assert (t, source, tier, phase) == (pytest.approx(0.2), "client", "web", "attempt")


def test_the_gateway_is_the_source_when_its_attempt_timer_fires() -> None:
    data = chain(
        {"a": 0.0, "b": 1.0},
        client={"retry": {"max_attempts": 1, "attempt_timeout": 2.0}},
        a_b={"retry": {"max_attempts": 1, "attempt_timeout": 0.3}},
    )
    r = run(data)
    s = r.summary
    assert s["timeouts"] == {"backend": {}, "client": {}, "gateway": {"attempt": 1}}
    assert s["edges"]["a_b"]["timeouts"] == {"attempt": 1}
    assert s["failure_evidence"] == {"retries_exhausted": {"http_504": 1}}
    ((t, _, source, tier, phase),) = r.root_causes
    assert (t, source, tier, phase) == (pytest.approx(0.3), "gateway", "a", "attempt")


def test_a_successful_request_has_no_root_cause() -> None:
    data = chain({"a": 0.0, "b": 0.1}, client={"retry": {"max_attempts": 1, "attempt_timeout": 2.0}})
    r = run(data)
    assert r.summary["successes"] == 1 and r.root_causes == []


def test_a_route_timeout_shortens_the_deadline() -> None:
    data = chain({"a": 0.0, "b": 0.0}, client={"retry": {"max_attempts": 1, "attempt_timeout": 2.0}})
    data["services"]["a"]["routes"]["default"]["timeout"] = 0.5
    assert [round(s[2], 9) for s in received(data)] == [2.0, 0.5]
