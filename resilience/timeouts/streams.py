"""Phase-bounded reading and writing on asyncio streams (an asyncio driver).

Not an HTTP framework: these helpers only bound the phases of a connection
by :class:`LayeredTimeouts` (and, optionally, a request :class:`Deadline`) and
raise :class:`PhaseTimeout` naming the phase that fired. Times are the event
loop's clock (``loop.time()``); deadlines passed in must be on that clock.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..deadline import Deadline
from ..outcome import TimeoutPhase, TimeoutSource
from .layered import LayeredTimeouts
from .record import TimeoutRecord, TimeoutRecorder

__all__ = [
    "ClientConnection",
    "HeadTooLarge",
    "PhaseTimeout",
    "ServerConnection",
    "bounded",
    "open_connection",
    "write_all",
]

T = TypeVar("T")
HEAD_END = b"\r\n\r\n"


class PhaseTimeout(TimeoutError):
    """A phase bound or a deadline fired; ``phase`` and ``source`` say which and where."""

    def __init__(
        self,
        phase: TimeoutPhase,
        source: TimeoutSource,
        timeout: float | None,
        *,
        explicit: bool = True,
        record: TimeoutRecord | None = None,
    ) -> None:
        self.phase = phase
        self.source = source
        self.timeout = timeout
        self.explicit = explicit
        self.record = record
        after = "" if timeout is None else f" after {timeout:g}s"
        super().__init__(f"{source.value} timed out in phase {phase.value}{after}")


class HeadTooLarge(ValueError):
    """The message head exceeded the configured size before its blank line."""


async def bounded(
    aw: Awaitable[T],
    *,
    phase: TimeoutPhase,
    source: TimeoutSource,
    end: float | None = None,
    timeout: float | None = None,
    deadline: Deadline | None = None,
    explicit: bool = True,
    recorder: TimeoutRecorder | None = None,
    trace_id: str = "",
    span: str = "",
) -> T:
    """Await ``aw`` until the earliest of ``end`` (loop time) and ``deadline``.

    ``timeout`` is the configured bound reported with the timeout. When the
    deadline is the earlier end, the phase reported is ``deadline`` and
    ``explicit`` comes from the deadline. On expiry the recorder (if any) emits
    a :class:`TimeoutRecord` and :class:`PhaseTimeout` is raised; ``aw`` is cancelled.
    """
    limit = math.inf if end is None else end
    if deadline is not None and deadline.expires_at < limit:
        limit = deadline.expires_at
        phase, explicit, timeout = TimeoutPhase.DEADLINE, deadline.explicit, deadline.timeout
    if math.isinf(limit):
        return await aw
    cm = asyncio.timeout_at(limit)
    try:
        async with cm:
            return await aw
    except TimeoutError:
        if not cm.expired():
            raise
    record = None
    if recorder is not None:
        record = recorder.fire(
            source, phase, trace_id=trace_id, span=span, explicit=explicit, timeout=timeout
        )
    raise PhaseTimeout(phase, source, timeout, explicit=explicit, record=record)


def _now() -> float:
    return asyncio.get_running_loop().time()


async def open_connection(
    host: str,
    port: int,
    timeouts: LayeredTimeouts,
    *,
    deadline: Deadline | None = None,
    source: TimeoutSource = TimeoutSource.CLIENT,
    recorder: TimeoutRecorder | None = None,
    trace_id: str = "",
    span: str = "",
    **kwargs: Any,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` bounded by the connect timeout (and the deadline)."""
    return await bounded(
        asyncio.open_connection(host, port, **kwargs),
        phase=TimeoutPhase.CONNECT,
        source=source,
        end=_now() + timeouts.connect,
        timeout=timeouts.connect,
        deadline=deadline,
        recorder=recorder,
        trace_id=trace_id,
        span=span,
    )


async def write_all(
    writer: asyncio.StreamWriter,
    data: bytes,
    timeout: float,
    *,
    end: float | None = None,
    deadline: Deadline | None = None,
    source: TimeoutSource = TimeoutSource.BACKEND,
    recorder: TimeoutRecorder | None = None,
    explicit: bool = True,
    trace_id: str = "",
    span: str = "",
) -> None:
    """Write ``data`` and drain it under the write bound; on expiry abort the connection.

    A peer that stops reading fills the socket buffers and the drain waits; the
    bound cuts it. ``end`` (loop time) overrides ``now + timeout`` when several
    writes share one bound.
    """
    writer.write(data)
    try:
        await bounded(
            writer.drain(),
            phase=TimeoutPhase.WRITE,
            source=source,
            end=_now() + timeout if end is None else end,
            timeout=timeout,
            deadline=deadline,
            explicit=explicit,
            recorder=recorder,
            trace_id=trace_id,
            span=span,
        )
    except PhaseTimeout:
        writer.transport.abort()  # close() would wait to flush to a peer that does not read
        raise


class _Conn:
    """Shared state: the streams, the bounds, and where timeouts are reported."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeouts: LayeredTimeouts,
        source: TimeoutSource,
        recorder: TimeoutRecorder | None,
        max_head_bytes: int,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeouts = timeouts
        self.source = source
        self.recorder = recorder
        self.max_head_bytes = max_head_bytes
        self.trace_id = ""
        self.span = ""

    async def _bound(
        self, aw: Awaitable[T], phase: TimeoutPhase, end: float, deadline: Deadline | None = None
    ) -> T:
        try:
            return await bounded(
                aw,
                phase=phase,
                source=self.source,
                end=end,
                timeout=self.timeouts.timeout(phase),
                deadline=deadline,
                explicit=self.timeouts.explicit(phase),
                recorder=self.recorder,
                trace_id=self.trace_id,
                span=self.span,
            )
        except PhaseTimeout:
            self.writer.transport.abort()
            raise

    async def _read_head(
        self, prefix: bytes, end: float, phase: TimeoutPhase, deadline: Deadline | None
    ) -> bytes:
        async def read() -> bytes:
            try:
                rest = await self.reader.readuntil(HEAD_END)
            except asyncio.LimitOverrunError as exc:
                raise HeadTooLarge(f"message head larger than {self.max_head_bytes} bytes") from exc
            head = prefix + rest
            if len(head) > self.max_head_bytes:
                raise HeadTooLarge(f"message head larger than {self.max_head_bytes} bytes")
            return head

        return await self._bound(read(), phase, end, deadline)

    def close(self) -> None:
        self.writer.close()


class ServerConnection(_Conn):
    """One accepted connection, server side: read_header, read, write and idle bounds.

    Per request: ``await next_request()`` (False on a clean close), ``read_head()``,
    ``read_body(n)``, one or more ``write(data)``. The first request's read_header
    and read bounds start at the accept, later ones at their first byte (the
    wait before it is the idle phase). The write bound starts at the first
    write of a response and covers all its writes.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeouts: LayeredTimeouts,
        *,
        source: TimeoutSource = TimeoutSource.BACKEND,
        recorder: TimeoutRecorder | None = None,
        max_head_bytes: int = 65536,
    ) -> None:
        super().__init__(reader, writer, timeouts, source, recorder, max_head_bytes)
        self.requests = 0
        self._start = _now()
        self._prefix = b""
        self._write_end: float | None = None

    async def next_request(self) -> bool:
        """Wait for the next request's first byte; False if the peer closed cleanly."""
        if self.requests == 0:
            phase, end = TimeoutPhase.READ_HEADER, self._start + self.timeouts.read_header
        else:
            phase, end = TimeoutPhase.IDLE, _now() + self.timeouts.idle_timeout
        first = await self._bound(self.reader.read(1), phase, end)
        if not first:
            return False
        if self.requests > 0:
            self._start = _now()
        self.requests += 1
        self._prefix = first
        self._write_end = None
        return True

    async def read_head(self) -> bytes:
        """The request head through its blank line, under read_header."""
        prefix, self._prefix = self._prefix, b""
        end = self._start + self.timeouts.read_header
        return await self._read_head(prefix, end, TimeoutPhase.READ_HEADER, None)

    async def read_body(self, n: int) -> bytes:
        """Exactly ``n`` body bytes, under read (counted from the request start)."""
        return await self._bound(
            self.reader.readexactly(n), TimeoutPhase.READ, self._start + self.timeouts.read
        )

    async def write(self, data: bytes) -> None:
        """Write part or all of a response, under write (from the response's first byte)."""
        if self._write_end is None:
            self._write_end = _now() + self.timeouts.write
        await self._bound(self._write(data), TimeoutPhase.WRITE, self._write_end)

    async def _write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


class ClientConnection(_Conn):
    """One outgoing connection, client side: connect, write and read bounds plus a deadline.

    Per request: ``write(data)`` (write bound from the request's first byte),
    then ``read_head()`` and ``read_body(n)`` (read bound from the first read).
    Every wait also stops at ``deadline`` (phase ``deadline``).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeouts: LayeredTimeouts,
        *,
        source: TimeoutSource = TimeoutSource.CLIENT,
        recorder: TimeoutRecorder | None = None,
        max_head_bytes: int = 65536,
    ) -> None:
        super().__init__(reader, writer, timeouts, source, recorder, max_head_bytes)
        self.deadline: Deadline | None = None
        self._write_end: float | None = None
        self._read_end: float | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        timeouts: LayeredTimeouts,
        *,
        deadline: Deadline | None = None,
        source: TimeoutSource = TimeoutSource.CLIENT,
        recorder: TimeoutRecorder | None = None,
        trace_id: str = "",
        span: str = "",
        sock_opts: tuple[tuple[int, int, int], ...] = (),
    ) -> ClientConnection:
        """Connect under the connect bound; ``sock_opts`` are ``setsockopt`` triples set before connecting."""
        if sock_opts:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            for level, opt, value in sock_opts:
                sock.setsockopt(level, opt, value)
            sock.setblocking(False)
            try:
                await bounded(
                    asyncio.get_running_loop().sock_connect(sock, (host, port)),
                    phase=TimeoutPhase.CONNECT,
                    source=source,
                    end=_now() + timeouts.connect,
                    timeout=timeouts.connect,
                    deadline=deadline,
                    recorder=recorder,
                    trace_id=trace_id,
                    span=span,
                )
            except BaseException:
                sock.close()
                raise
            reader, writer = await asyncio.open_connection(sock=sock)
        else:
            reader, writer = await open_connection(
                host,
                port,
                timeouts,
                deadline=deadline,
                source=source,
                recorder=recorder,
                trace_id=trace_id,
                span=span,
            )
        conn = cls(reader, writer, timeouts, source=source, recorder=recorder)
        conn.deadline, conn.trace_id, conn.span = deadline, trace_id, span
        return conn

    async def write(self, data: bytes) -> None:
        """Send part or all of a request, under write and the deadline."""
        if self._write_end is None:
            self._write_end = _now() + self.timeouts.write
        self._read_end = None
        self.writer.write(data)
        await self._bound(self.writer.drain(), TimeoutPhase.WRITE, self._write_end, self.deadline)

    def _read_bound(self) -> float:
        if self._read_end is None:
            self._read_end = _now() + self.timeouts.read
            self._write_end = None
        return self._read_end

    async def read_head(self) -> bytes:
        """The response head through its blank line, under read and the deadline."""
        return await self._read_head(b"", self._read_bound(), TimeoutPhase.READ, self.deadline)

    async def read_body(self, n: int) -> bytes:
        """Exactly ``n`` body bytes, under read and the deadline."""
        return await self._bound(
            self.reader.readexactly(n), TimeoutPhase.READ, self._read_bound(), self.deadline
        )
