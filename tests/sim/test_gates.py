"""A replica's gate: each part refuses with its own cause and gives back what it held on leave (a
dropped leave shows as a leak), a later refusal undoes the earlier grants, configs fail in the
standard form, and the same inputs give the same decisions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from resilience.admission import AIMDConfig, BulkheadConfig, GradientConfig, KeyedRateLimiterConfig
from sim.model.gates import CAUSES, GateRT, GateTicket
from sim.scenario.gates import ConnectionsConfig, GateConfig


def gate(**parts: Any) -> GateRT:
    return GateRT(GateConfig(**parts), name="l7#0", rng=np.random.default_rng(0))


def admitted(answer: object) -> GateTicket:
    assert isinstance(answer, GateTicket), answer
    return answer


# -- per-IP token bucket -----------------------------------------------------------------
RATE, BURST = 50.0, 100.0


def test_token_bucket_refuses_the_51st_request_within_a_second_after_the_burst() -> None:
    g = gate(rate_limit=KeyedRateLimiterConfig(rate=RATE, burst=BURST))
    answers = [g.enter(ip=1, new_connection=False, now=0.0) for _ in range(int(BURST))]
    assert all(isinstance(a, GateTicket) for a in answers)  # the burst
    assert g.enter(1, False, 0.0) == "rate_limited"
    # one second later the bucket has refilled RATE * 1 s = 50 tokens: 50 pass, the 51st is refused
    later = [g.enter(1, False, 1.0) for _ in range(51)]
    assert sum(isinstance(a, GateTicket) for a in later) == 50
    assert later[-1] == "rate_limited"
    assert g.rejected["rate_limited"] == 2
    # over [0, 1] the IP got burst + rate * 1 s, exactly
    assert g.admitted == BURST + RATE * 1.0
    # another IP has its own bucket
    assert isinstance(g.enter(2, False, 1.0), GateTicket)


def test_token_bucket_paced_at_the_rate_is_never_refused() -> None:
    g = gate(rate_limit=KeyedRateLimiterConfig(rate=RATE, burst=BURST))
    for _ in range(int(BURST)):
        admitted(g.enter(1, False, 0.0))
    # after the burst, one request per 1/RATE s (plus a hair) always finds a token
    for k in range(1, 200):
        admitted(g.enter(1, False, k / RATE + 1e-6))
    assert g.rejected["rate_limited"] == 0


# -- bulkhead ----------------------------------------------------------------------------
def test_bulkhead_rejects_when_full_and_frees_on_leave() -> None:
    g = gate(bulkhead=BulkheadConfig(max_concurrent=2))
    a, b = admitted(g.enter(1, False, 0.0)), admitted(g.enter(2, False, 0.0))
    assert g.enter(3, False, 0.0) == "bulkhead_full"
    g.leave(a, 0.1, latency=0.1, ok=True)
    c = admitted(g.enter(3, False, 0.1))
    assert g.enter(4, False, 0.1) == "bulkhead_full"
    g.leave(b, 0.2, 0.2, True)
    g.leave(c, 0.2, 0.1, True)
    assert g.bulkhead is not None and g.bulkhead.in_flight == 0
    assert (g.in_flight, g.rejected["bulkhead_full"]) == (0, 2)


@pytest.mark.parametrize("drop_leave", [False, True])
def test_bulkhead_leak_shows_when_a_leave_is_dropped(drop_leave: bool) -> None:
    """Negative control: the same sequence with one leave dropped leaves a slot held for good."""
    g = gate(bulkhead=BulkheadConfig(max_concurrent=1))
    for i in range(10):
        t = admitted(g.enter(i, False, float(i))) if i == 0 or not drop_leave else g.enter(i, False, float(i))
        if isinstance(t, GateTicket) and not (drop_leave and i == 0):
            g.leave(t, i + 0.5, 0.5, True)
    assert g.bulkhead is not None
    if drop_leave:
        assert (g.in_flight, g.bulkhead.in_flight, g.rejected["bulkhead_full"]) == (1, 1, 9)
    else:
        assert (g.in_flight, g.bulkhead.in_flight, g.rejected["bulkhead_full"]) == (0, 0, 0)


# -- adaptive (AIMD) ---------------------------------------------------------------------
def test_aimd_rejects_at_the_limit_and_a_drop_halves_it() -> None:
    cfg = AIMDConfig(initial_limit=2, min_limit=1, max_limit=10, backoff_ratio=0.5, timeout=1.0)
    g = gate(adaptive=cfg)
    a, b = admitted(g.enter(1, False, 0.0)), admitted(g.enter(2, False, 0.0))
    assert g.enter(3, False, 0.0) == "concurrency_limited"
    g.leave(a, 0.5, latency=0.5, ok=False)  # a drop: floor(2 * 0.5) = 1
    assert g.limiter is not None and g.limiter.limit == 1
    assert g.enter(3, False, 0.5) == "concurrency_limited"  # b is still in: 1 in flight = limit 1
    g.leave(b, 0.6, 0.6, True)  # success with 1 in flight at start >= limit/2: limit + 1 = 2
    assert g.limiter.limit == 2
    c, d = admitted(g.enter(3, False, 0.6)), admitted(g.enter(4, False, 0.6))
    assert g.enter(5, False, 0.6) == "concurrency_limited"
    # a success slower than AIMD's timeout is a drop too: floor(2 * 0.5) = 1
    g.leave(c, 2.0, latency=1.4, ok=True)
    assert g.limiter.limit == 1
    g.leave(d, 2.0, 1.4, True)
    assert (g.in_flight, g.limiter.in_flight, g.rejected["concurrency_limited"]) == (0, 0, 3)


@pytest.mark.parametrize("drop_leave", [False, True])
def test_aimd_leak_shows_when_a_leave_is_dropped(drop_leave: bool) -> None:
    g = gate(adaptive=AIMDConfig(initial_limit=1, min_limit=1, max_limit=1))
    first = admitted(g.enter(0, False, 0.0))
    if not drop_leave:
        g.leave(first, 0.1, 0.1, True)
    answer = g.enter(1, False, 0.2)
    assert g.limiter is not None
    if drop_leave:
        assert answer == "concurrency_limited"
        assert g.limiter.in_flight == 1
    else:
        assert isinstance(answer, GateTicket)
        assert g.limiter.in_flight == 1 and g.limiter.released == 1


def test_leave_settles_once() -> None:
    g = gate(bulkhead=BulkheadConfig(max_concurrent=3))
    t = admitted(g.enter(1, False, 0.0))
    g.leave(t, 0.1, 0.1, True)
    with pytest.raises(RuntimeError, match="already left"):
        g.leave(t, 0.2, 0.2, True)
    with pytest.raises(TypeError, match="not a GateTicket"):
        g.leave("rate_limited", 0.2, 0.2, True)
    assert g.bulkhead is not None and g.bulkhead.in_flight == 0


def test_gradient_limit_rejects_at_its_limit_and_releases() -> None:
    g = gate(adaptive=GradientConfig(initial_limit=2, min_limit=1, max_limit=10))
    a, b = admitted(g.enter(1, False, 0.0)), admitted(g.enter(2, False, 0.0))
    assert g.enter(3, False, 0.0) == "concurrency_limited"
    g.leave(a, 0.01, 0.01, True)
    g.leave(b, 0.01, 0.01, True)
    assert g.limiter is not None and (g.limiter.in_flight, g.limiter.released) == (0, 2)
    # both answered fast at full load: the limit can only have grown
    assert g.limiter.limit >= 2
    admitted(g.enter(3, False, 0.02))


# -- connections through the gate --------------------------------------------------------
def test_connection_refused_and_handshake_delay() -> None:
    g = gate(connections=ConnectionsConfig(limit=2, syn_backlog=2, handshake_time=0.004, idle_timeout=30.0))
    a = admitted(g.enter(1, False, 0.0))
    assert a.delay == pytest.approx(0.004)  # a new connection waits for its handshake
    g.leave(a, 0.01, 0.01, True)
    again = admitted(g.enter(1, False, 0.02))
    assert again.delay == 0.0  # keep-alive: no handshake
    assert again.connection is a.connection
    flood = admitted(g.enter(9, True, 0.02))
    assert flood.delay == pytest.approx(0.004)
    g.leave(flood, 0.03, 0.01, True)
    assert g.enter(9, True, 0.04) == "connection_refused"  # flood conns are not reused: 2 = limit
    assert g.enter(2, False, 0.04) == "connection_refused"
    assert g.rejected["connection_refused"] == 2


def test_the_gate_tells_which_requests_tried_a_new_connection() -> None:
    g = gate(
        connections=ConnectionsConfig(limit=2, syn_backlog=2, handshake_time=0.0),
        rate_limit=KeyedRateLimiterConfig(rate=1.0, burst=2.0),
    )
    first = admitted(g.enter(1, False, 0.0))
    assert first.opened and g.attempted_new  # no handshake time, still a new connection
    g.leave(first, 0.1, 0.1, True)
    reused = admitted(g.enter(1, False, 0.2))
    assert not reused.opened and not g.attempted_new
    flood = admitted(g.enter(9, True, 0.3))  # a flood request always opens one
    assert flood.opened and g.attempted_new
    assert g.enter(1, True, 0.3) == "connection_refused"  # 2 connections = limit
    assert g.attempted_new  # refused for lack of room: still an attempt
    g.leave(reused, 0.4, 0.2, True)
    # IP 1's bucket (burst 2, 1/s): 1 token left at 0.0, 0.2 at 0.2, 0.5 at 0.5
    assert g.enter(1, False, 0.5) == "rate_limited"
    assert not g.attempted_new  # it reused its kept-alive connection, then was limited
    # a new connection opened, then the request rate limited: an attempt all the same
    h = gate(
        connections=ConnectionsConfig(limit=10, syn_backlog=10, handshake_time=0.0),
        rate_limit=KeyedRateLimiterConfig(rate=1.0, burst=1.0),
    )
    admitted(h.enter(5, True, 0.0))
    assert h.enter(5, True, 0.1) == "rate_limited"
    assert h.attempted_new
    assert h.connections is not None and (h.connections.opened, h.connections.busy) == (2, 1)


def test_a_later_refusal_gives_back_the_earlier_grants() -> None:
    g = gate(
        connections=ConnectionsConfig(limit=10, syn_backlog=10, handshake_time=0.0),
        rate_limit=KeyedRateLimiterConfig(rate=1.0, burst=1.0),
        bulkhead=BulkheadConfig(max_concurrent=5),
        adaptive=AIMDConfig(initial_limit=1, min_limit=1, max_limit=1),
    )
    first = admitted(g.enter(1, False, 0.0))
    assert g.enter(1, False, 0.0) == "rate_limited"
    assert g.connections is not None and g.bulkhead is not None and g.limiter is not None
    # the refused request's connection is back in IP 1's pool, idle; the bulkhead was not touched
    assert (g.connections.busy, g.connections.idle, g.bulkhead.in_flight) == (1, 1, 1)
    assert g.enter(2, False, 0.0) == "concurrency_limited"  # the limiter's one slot is first's
    assert (g.bulkhead.in_flight, g.connections.busy) == (1, 1)  # its bulkhead slot and connection came back
    g.leave(first, 0.1, 0.1, True)
    assert (g.bulkhead.in_flight, g.limiter.in_flight, g.connections.busy) == (0, 0, 0)
    assert g.rejected == {
        "connection_refused": 0,
        "rate_limited": 1,
        "bulkhead_full": 0,
        "concurrency_limited": 1,
    }
    assert set(g.rejected) == set(CAUSES)


def test_without_parts_everything_passes() -> None:
    g = gate()
    assert not g.config.active
    tickets = [admitted(g.enter(i % 3, i % 2 == 0, i * 0.001)) for i in range(100)]
    assert all(t.delay == 0.0 and t.connection is None for t in tickets)
    assert [t.opened for t in tickets[:4]] == [True, False, True, False]  # the flood ones (i even)
    assert g.in_flight == 100


# -- configs -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"bulkhead": {"max_concurrent": 4, "max_waiting": 2, "max_wait_time": 1.0}},
            "GateConfig.bulkhead.max_waiting=2: must be 0 (the service's queue is the waiting room)",
        ),
        ({"adaptive": {"type": "vegas"}}, "GateConfig.adaptive.type='vegas': must be one of aimd, gradient"),
        ({"rate_limit": {"rate": 0}}, "KeyedRateLimiterConfig.rate=0.0: must be > 0 and finite"),
        ({"connections": {"limit": -1}}, "ConnectionsConfig.limit=-1: must be >= 1"),
        ({"moat": {}}, "GateConfig.moat={}: unknown field"),
    ],
)
def test_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        GateConfig.from_dict(data)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("adaptive", "message"),
    [  # plain data, as a scenario file gives it: the error names the field under `adaptive`
        (
            {"type": "aimd", "initial_limit": 300},
            "GateConfig.adaptive.initial_limit=300: must be in [1, 200]",
        ),
        ({"initial_limit": 3}, "GateConfig.adaptive.type=None: must be one of aimd, gradient"),
        ({"type": "gradient", "smoothing": 0}, "GateConfig.adaptive.smoothing=0.0: must be in (0, 1]"),
        (
            BulkheadConfig(),
            "GateConfig.adaptive=BulkheadConfig(max_concurrent=10, max_waiting=0, max_wait_time=0.0): "
            "must be an AIMDConfig or a GradientConfig (type aimd or gradient)",
        ),
    ],
)
def test_adaptive_config_errors(adaptive: Any, message: str) -> None:
    with pytest.raises(ValueError) as err:
        GateConfig(adaptive=adaptive)
    assert str(err.value) == message


def test_adaptive_from_plain_data_picks_the_kind() -> None:
    aimd: Any = {"type": "aimd", "initial_limit": 7}
    gradient: Any = {"type": "gradient"}
    assert GateConfig(adaptive=aimd).adaptive == AIMDConfig(initial_limit=7)
    assert GateConfig(adaptive=gradient).adaptive == GradientConfig()


def test_config_round_trips() -> None:
    data = {
        "connections": {"limit": 20_000, "syn_backlog": 1_024},
        "rate_limit": {"rate": 50, "burst": 100},
        "bulkhead": {"max_concurrent": 200},
        "adaptive": {"type": "gradient", "initial_limit": 50},
    }
    cfg = GateConfig.from_dict(data)
    assert cfg.active
    assert GateConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.adaptive is not None and cfg.adaptive.kind == "gradient"


# -- determinism -------------------------------------------------------------------------
def workload(seed: int) -> tuple[list[object], dict[str, int]]:
    """A random stream of enters and leaves through a gate with every part; the decisions made."""
    rng = np.random.default_rng(seed)
    g = GateRT(
        GateConfig(
            connections=ConnectionsConfig(limit=25, syn_backlog=4, handshake_time=0.002, idle_timeout=0.5),
            rate_limit=KeyedRateLimiterConfig(rate=20.0, burst=5.0),
            bulkhead=BulkheadConfig(max_concurrent=8),
            adaptive=AIMDConfig(initial_limit=10, max_limit=40, timeout=0.05),
        ),
        name="gw#0",
        rng=rng,
    )
    now = 0.0
    held: list[GateTicket] = []
    decisions: list[object] = []
    enters = 0
    for _ in range(3_000):
        now += float(rng.exponential(0.002))
        if held and rng.random() < 0.5:
            t = held.pop(int(rng.integers(len(held))))
            lat = float(rng.exponential(0.03))
            g.leave(t, now, lat, bool(rng.random() < 0.9))
            decisions.append("leave")
        else:
            enters += 1
            answer = g.enter(int(rng.integers(12)), bool(rng.random() < 0.05), now)
            decisions.append(answer if isinstance(answer, str) else round(answer.delay, 9))
            if isinstance(answer, GateTicket):
                held.append(answer)
    # accounting: every request admitted or refused once; what is held is exactly what is in flight
    assert enters == g.admitted + sum(g.rejected.values())
    assert g.in_flight == len(held)
    assert g.bulkhead is not None and g.limiter is not None and g.connections is not None
    assert g.bulkhead.in_flight == g.limiter.in_flight == g.connections.busy == len(held)
    return decisions, dict(g.rejected)


def test_same_inputs_same_decisions() -> None:
    first, second, other = workload(3), workload(3), workload(4)
    assert first == second
    assert first != other
    assert all(n > 0 for n in first[1].values()), first[1]  # every part took decisions
