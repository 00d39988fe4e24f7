"""A small HTTP/1.1 server and client for tests, built on resilience.timeouts stream helpers.

Only what the tests need: Content-Length bodies, keep-alive, no chunking.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from resilience.deadline import Deadline
from resilience.outcome import TimeoutSource
from resilience.timeouts import (
    ClientConnection,
    LayeredTimeouts,
    PhaseTimeout,
    ServerConnection,
    TimeoutRecorder,
)

REASONS = {200: "OK", 400: "Bad Request", 504: "Gateway Timeout"}


@dataclass
class Message:
    """A request (``start`` = ``GET /path HTTP/1.1``) or a response (``HTTP/1.1 200 OK``)."""

    start: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    @property
    def status(self) -> int:
        return int(self.start.split(" ")[1])

    def encode(self) -> bytes:
        lines = [self.start, *(f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length")]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def request(method: str, path: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> Message:
    return Message(f"{method} {path} HTTP/1.1", [("Host", "127.0.0.1"), *headers], body)


def response(status: int, headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> Message:
    return Message(f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", list(headers), body)


def parse_head(head: bytes) -> Message:
    lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return Message(lines[0], headers)


Handler = Callable[[Message], Awaitable[Message]]


class MiniServer:
    """Serves ``handler`` on 127.0.0.1 with every phase bounded by ``timeouts``."""

    def __init__(
        self,
        handler: Handler,
        timeouts: LayeredTimeouts,
        *,
        recorder: TimeoutRecorder | None = None,
        source: TimeoutSource = TimeoutSource.BACKEND,
        sndbuf: int | None = None,
    ) -> None:
        self.handler = handler
        self.timeouts = timeouts
        self.recorder = recorder
        self.source = source
        self.sndbuf = sndbuf
        self.fired: list[PhaseTimeout] = []
        self.fired_event = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> MiniServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:  # end connections still waiting (idle) before the loop stops
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.sndbuf is not None:
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
            writer.transport.set_write_buffer_limits(high=0)
        conn = ServerConnection(reader, writer, self.timeouts, source=self.source, recorder=self.recorder)
        try:
            while await conn.next_request():
                req = parse_head(await conn.read_head())
                conn.trace_id = req.header("X-Trace-Id") or ""
                length = int(req.header("Content-Length") or 0)
                if length:
                    req.body = await conn.read_body(length)
                resp = await self.handler(req)
                await conn.write(resp.encode())
        except PhaseTimeout as exc:
            self.fired.append(exc)
            self.fired_event.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the peer went away, or the server is shutting down
        finally:
            writer.close()


async def send(conn: ClientConnection, req: Message) -> Message:
    """One request/response exchange on an open connection."""
    await conn.write(req.encode())
    resp = parse_head(await conn.read_head())
    length = int(resp.header("Content-Length") or 0)
    if length:
        resp.body = await conn.read_body(length)
    return resp


async def call(
    port: int,
    req: Message,
    timeouts: LayeredTimeouts,
    *,
    deadline: Deadline | None = None,
    source: TimeoutSource = TimeoutSource.CLIENT,
    recorder: TimeoutRecorder | None = None,
    trace_id: str = "",
    span: str = "",
) -> Message:
    """Open a connection to 127.0.0.1:``port``, exchange one request, close."""
    conn = await ClientConnection.open(
        "127.0.0.1",
        port,
        timeouts,
        deadline=deadline,
        source=source,
        recorder=recorder,
        trace_id=trace_id,
        span=span,
    )
    try:
        return await send(conn, req)
    finally:
        conn.close()
