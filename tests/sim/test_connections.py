"""A replica's connection table: the limit counts open and half-open connections, SYN-backlog overflow
refuses, keep-alive reuse skips the handshake, idle connections close after the timeout, flood
connections are never reused, memory stays bounded for 10,000 client IPs."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.connections import Connection, ConnectionTable
from sim.scenario.gates import ConnectionsConfig


def table(**kw: float) -> ConnectionTable:
    return ConnectionTable(ConnectionsConfig(**kw))  # type: ignore[arg-type]


def test_limit_counts_open_and_half_open() -> None:
    t = table(limit=3, syn_backlog=3, handshake_time=1.0, idle_timeout=60.0)
    assert t.acquire(1, 0.0) is not None
    assert t.acquire(2, 0.0) is not None
    t.settle(2.0)  # both handshakes done: 2 open, 0 half-open
    assert (t.open, t.half_open) == (2, 0)
    assert t.acquire(3, 2.0) is not None  # a third, half-open until 3.0: 2 + 1 = 3 = limit
    assert (t.open, t.half_open, t.connections) == (2, 1, 3)
    assert t.acquire(4, 2.0) is None
    assert (t.refused_limit, t.refused_backlog) == (1, 0)
    # the half-open one counts: had it not, the fourth would have fit
    t.settle(3.0)
    assert (t.open, t.half_open) == (3, 0)
    assert t.acquire(4, 3.0) is None
    assert t.refused_limit == 2


def test_syn_backlog_overflow_refuses_until_handshakes_complete() -> None:
    t = table(limit=100, syn_backlog=2, handshake_time=0.5)
    assert t.acquire(1, 0.0) is not None
    assert t.acquire(2, 0.1) is not None
    assert t.acquire(3, 0.2) is None  # two half-open = backlog full
    assert (t.refused_backlog, t.refused_limit) == (1, 0)
    assert t.acquire(3, 0.5) is not None  # the first handshake ended at 0.5: one place in the backlog
    assert t.acquire(4, 0.55) is None  # second (ends 0.6) and third (ends 1.0) are half-open
    assert t.acquire(4, 0.6) is not None
    assert t.refused_backlog == 2
    assert t.connections == 4


def test_keep_alive_reuse_has_no_handshake_and_stays_with_its_ip() -> None:
    t = table(handshake_time=0.2, idle_timeout=10.0)
    first = t.acquire(7, 0.0)
    assert first is not None and first.ready_at == pytest.approx(0.2)
    t.release(first, 0.3)
    again = t.acquire(7, 1.0)
    assert again is first  # the same connection, its handshake long done
    assert again.ready_at <= 1.0
    assert (t.opened, t.reused) == (1, 1)
    other = t.acquire(8, 1.0)  # another IP never takes it
    assert other is not None and other is not first
    assert other.ready_at == pytest.approx(1.2)
    assert (t.opened, t.reused, t.connections) == (2, 1, 2)


def test_idle_connection_closes_after_the_timeout() -> None:
    t = table(handshake_time=0.0, idle_timeout=10.0)
    conn = t.acquire(1, 0.0)
    assert conn is not None
    t.release(conn, 1.0)
    t.settle(10.999)
    assert (t.connections, t.idle, t.closed_idle) == (1, 1, 0)
    t.settle(11.0)
    assert (t.connections, t.idle, t.closed_idle, t.pooled_ips) == (0, 0, 1, 0)
    again = t.acquire(1, 12.0)
    assert again is not None and again is not conn
    assert (t.opened, t.reused) == (2, 0)


def test_reuse_restarts_the_idle_clock() -> None:
    t = table(handshake_time=0.0, idle_timeout=10.0)
    conn = t.acquire(1, 0.0)
    assert conn is not None
    t.release(conn, 0.0)
    assert t.acquire(1, 9.0) is conn
    t.release(conn, 9.5)
    t.settle(19.0)  # idle since 9.5: still open
    assert t.connections == 1
    t.settle(19.5)
    assert t.connections == 0


def test_flood_connections_are_new_per_request_and_never_reused() -> None:
    t = table(limit=5, syn_backlog=5, handshake_time=0.0, idle_timeout=10.0)
    for i in range(5):
        conn = t.acquire(99, i * 0.1, reuse=False)
        assert conn is not None
        t.release(conn, i * 0.1 + 0.01)
    assert (t.opened, t.reused, t.connections, t.idle) == (5, 0, 5, 5)
    assert t.pooled_ips == 0  # nothing reusable is pooled
    # the flood's idle connections fill the table: a normal IP's new connection is refused
    assert t.acquire(1, 1.0) is None
    assert t.refused_limit == 1
    t.settle(10.405)  # the first four went idle at 0.01 .. 0.31, the fifth at 0.41
    assert t.connections == 1
    t.settle(10.415)
    assert t.connections == 0
    assert t.acquire(1, 10.5) is not None


def test_unreused_close_frees_a_flood_connection_at_once() -> None:
    t = ConnectionTable(ConnectionsConfig(limit=2, syn_backlog=2, handshake_time=0.01, unreused="close"))
    for i in range(10):  # ten flood requests one after another never hold more than one connection
        conn = t.acquire(99, i * 0.1, reuse=False)
        assert conn is not None
        assert t.connections == 1
        t.release(conn, i * 0.1 + 0.05)
        assert (t.connections, t.idle) == (0, 0)
    assert (t.opened, t.closed_unreused, t.closed_idle) == (10, 10, 0)
    # a normal IP's connection still stays alive for reuse
    conn = t.acquire(1, 2.0)
    assert conn is not None
    t.release(conn, 2.1)
    assert t.acquire(1, 2.2) is conn
    # one closed during its handshake leaves the SYN backlog then
    a, b = t.acquire(98, 3.0, reuse=False), t.acquire(97, 3.0, reuse=False)
    assert a is not None and b is None  # the kept-alive one + a = limit 2
    t.release(a, 3.001)
    assert (t.half_open, t.connections) == (0, 1)


@pytest.mark.parametrize("unreused", ["idle", "close"])
def test_invariants_under_random_traffic(unreused: str) -> None:
    """After every step: limit and backlog hold, busy + idle = connections, and every connection
    ever opened is either still counted or was closed once."""
    rng = np.random.default_rng(11)
    cfg = ConnectionsConfig(limit=30, syn_backlog=5, handshake_time=0.02, idle_timeout=0.2, unreused=unreused)
    t = ConnectionTable(cfg)
    now = 0.0
    held: list[Connection] = []
    refused = 0
    for _ in range(20_000):
        now += float(rng.exponential(0.001))
        if held and rng.random() < 0.48:
            t.release(held.pop(int(rng.integers(len(held)))), now)
        else:
            conn = t.acquire(int(rng.integers(40)), now, reuse=bool(rng.random() > 0.1))
            if conn is None:
                refused += 1
            else:
                held.append(conn)
        t.settle(now)
        assert t.connections <= cfg.limit and t.half_open <= cfg.syn_backlog
        assert t.busy == len(held) and t.busy + t.idle == t.connections
        assert t.opened == t.connections + t.closed_idle + t.closed_unreused
        assert all(c.busy for c in held)
    assert refused == t.refused_limit + t.refused_backlog
    assert t.refused_limit > 0 and t.refused_backlog > 0 and t.reused > 0 and t.closed_idle > 0
    assert (t.closed_unreused > 0) == (unreused == "close")


@pytest.mark.parametrize("drop_release", [False, True])
def test_a_dropped_release_leaks_a_connection_for_good(drop_release: bool) -> None:
    """Negative control: idle close frees released connections only; one never released stays."""
    t = table(limit=1, syn_backlog=1, handshake_time=0.0, idle_timeout=1.0)
    conn = t.acquire(1, 0.0)
    assert conn is not None
    if not drop_release:
        t.release(conn, 0.1)
    later = t.acquire(2, 100.0)
    assert (later is None) is drop_release
    assert t.busy == 1 and t.closed_idle == (0 if drop_release else 1)


def test_release_twice_is_an_error() -> None:
    t = table()
    conn = t.acquire(1, 0.0)
    assert conn is not None
    t.release(conn, 0.1)
    with pytest.raises(RuntimeError, match="not in use"):
        t.release(conn, 0.2)


def test_memory_is_bounded_for_ten_thousand_ips() -> None:
    t = table(limit=20_000, syn_backlog=1_024, handshake_time=0.001, idle_timeout=5.0)
    now = 0.0
    for _ in range(3):
        for ip in range(10_000):
            now += 0.0001
            conn = t.acquire(ip, now)
            assert conn is not None
            t.release(conn, now + 0.0005)
        assert t.connections <= 10_000  # one kept-alive connection per IP at most
        assert t.pooled_ips <= 10_000
    assert t.opened == 10_000 and t.reused == 20_000
    t.settle(now + 5.1)
    assert (t.connections, t.idle, t.pooled_ips) == (0, 0, 0)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"limit": 0}, "ConnectionsConfig.limit=0: must be >= 1"),
        ({"syn_backlog": 0}, "ConnectionsConfig.syn_backlog=0: must be >= 1"),
        ({"limit": 10, "syn_backlog": 11}, "ConnectionsConfig.syn_backlog=11: must be <= limit (10)"),
        ({"handshake_time": -0.1}, "ConnectionsConfig.handshake_time=-0.1: must be >= 0 and finite"),
        ({"idle_timeout": 0}, "ConnectionsConfig.idle_timeout=0.0: must be > 0 and finite"),
        ({"unreused": "linger"}, "ConnectionsConfig.unreused='linger': must be idle or close"),
    ],
)
def test_config_errors(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as err:
        ConnectionsConfig(**kw)  # type: ignore[arg-type]
    assert str(err.value) == message
