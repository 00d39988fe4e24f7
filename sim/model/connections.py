"""A replica's connection table: keep-alive pools per client IP, half-open handshakes, a SYN backlog.

A request from an IP that holds an idle, reusable connection takes it (no
handshake). Otherwise it opens a connection: half-open for ``handshake_time``
(counted in the SYN backlog), then open. The limit counts open and half-open
connections; a new connection beyond ``limit`` or beyond ``syn_backlog``
half-open ones is refused. A connection released by its request goes idle;
idle connections close ``idle_timeout`` seconds after they went idle. A
connection opened with ``reuse=False`` (a flood IP: one new connection per
request) is never reused: it stays open, idle, until the idle timeout closes it
(``unreused = "idle"``), or closes as soon as its request is done (``"close"``).

No event is scheduled per connection: ``acquire`` (and ``settle``) first
settles, at its ``now``, the handshakes that have completed and the idle
connections that have expired. Time must not go backwards between calls.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from sim.scenario.gates import ConnectionsConfig

__all__ = ["Connection", "ConnectionTable"]


class Connection:
    """One connection: its client IP, whether it may be reused, when its handshake ends."""

    __slots__ = ("busy", "id", "idle_since", "ip", "ready_at", "reusable")

    def __init__(self, cid: int, ip: int, reusable: bool, ready_at: float) -> None:
        self.id = cid
        self.ip = ip
        self.reusable = reusable
        self.ready_at = ready_at
        self.busy = True
        self.idle_since = 0.0

    def __repr__(self) -> str:
        state = "busy" if self.busy else "idle"
        return f"Connection(id={self.id}, ip={self.ip}, {state}, reusable={self.reusable})"


class ConnectionTable:
    """The connections of one replica, at most ``limit`` (open + half-open).

    Counters: ``opened``, ``reused``, ``refused_limit``, ``refused_backlog``, ``closed_idle``,
    ``closed_unreused`` (closed at release with ``unreused = "close"``).
    """

    __slots__ = (
        "_close_unreused",
        "_count",
        "_half_open",
        "_idle",
        "_next_id",
        "_pools",
        "closed_idle",
        "closed_unreused",
        "config",
        "opened",
        "refused_backlog",
        "refused_limit",
        "reused",
    )

    def __init__(self, config: ConnectionsConfig) -> None:
        self.config = config
        self._count = 0  # open + half-open, busy + idle
        self._half_open: deque[float] = deque()  # handshake end times, in order (constant handshake time)
        self._idle: OrderedDict[int, Connection] = OrderedDict()  # in the order they went idle
        self._pools: dict[int, list[Connection]] = {}  # ip -> idle reusable connections (newest last)
        self._next_id = 0
        self._close_unreused = config.unreused == "close"
        self.opened = self.reused = self.refused_limit = self.refused_backlog = self.closed_idle = 0
        self.closed_unreused = 0

    # -- decisions ----------------------------------------------------------------------
    def acquire(self, ip: int, now: float, *, reuse: bool = True) -> Connection | None:
        """A connection for one request from ``ip``: an idle one of its own, else a new one; None if
        refused (limit or SYN backlog full). ``reuse=False``: always new, and never reused later."""
        self.settle(now)
        if reuse:
            pool = self._pools.get(ip)
            if pool:
                conn = pool.pop()
                if not pool:
                    del self._pools[ip]
                del self._idle[conn.id]
                conn.busy = True
                self.reused += 1
                return conn
        cfg = self.config
        if self._count >= cfg.limit:
            self.refused_limit += 1
            return None
        if len(self._half_open) >= cfg.syn_backlog:
            self.refused_backlog += 1
            return None
        ready_at = now + cfg.handshake_time
        if ready_at > now:
            self._half_open.append(ready_at)
        conn = Connection(self._next_id, ip, reuse, ready_at)
        self._next_id += 1
        self._count += 1
        self.opened += 1
        return conn

    def release(self, conn: Connection, now: float) -> None:
        """The request on ``conn`` is done: the connection goes idle (kept alive), or closes if its
        client will not reuse it and ``unreused = "close"``."""
        if not conn.busy:
            raise RuntimeError(f"ConnectionTable.release: {conn!r} is not in use")
        conn.busy = False
        conn.idle_since = now
        if not conn.reusable and self._close_unreused:
            if conn.ready_at > now:  # closed before its handshake ended: leaves the backlog now
                self._half_open.remove(conn.ready_at)
            self._count -= 1
            self.closed_unreused += 1
            return
        self._idle[conn.id] = conn
        if conn.reusable:
            self._pools.setdefault(conn.ip, []).append(conn)

    def settle(self, now: float) -> None:
        """Complete the handshakes that ended by ``now`` and close the idle connections that expired."""
        half = self._half_open
        while half and half[0] <= now:
            half.popleft()
        idle, timeout = self._idle, self.config.idle_timeout
        while idle:
            conn = next(iter(idle.values()))
            if conn.idle_since + timeout > now:
                break
            idle.popitem(last=False)
            if conn.reusable:
                pool = self._pools[conn.ip]
                pool.remove(conn)
                if not pool:
                    del self._pools[conn.ip]
            self._count -= 1
            self.closed_idle += 1

    # -- inspection (as of the last ``acquire`` or ``settle``; call ``settle(now)`` first) ---
    @property
    def connections(self) -> int:
        """Open + half-open connections (what the limit counts)."""
        return self._count

    @property
    def half_open(self) -> int:
        return len(self._half_open)

    @property
    def open(self) -> int:
        """Connections whose handshake has completed."""
        return self._count - len(self._half_open)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def busy(self) -> int:
        return self._count - len(self._idle)

    @property
    def pooled_ips(self) -> int:
        """Client IPs holding an idle reusable connection here."""
        return len(self._pools)
