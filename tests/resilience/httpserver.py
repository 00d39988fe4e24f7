"""A scripted HTTP/1.1 server on 127.0.0.1 (a thread) and a tiny asyncio-streams client, for driver tests.

The server answers each request with the next entry of its script (the last
entry repeats) and records when each request arrived and finished, on
``time.monotonic``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    """What the server does for one request: wait ``delay`` seconds, then answer."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    arrived: float
    finished: float | None = None


@dataclass
class ScriptedServer:
    script: list[Answer]
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def arrivals(self) -> list[float]:
        with self.lock:
            return [s.arrived for s in self.seen]

    def _next(self, path: str) -> tuple[Answer, Seen]:
        with self.lock:
            n = len(self.seen)
            answer = self.script[min(n, len(self.script) - 1)]
            record = Seen(path, time.monotonic())
            self.seen.append(record)
            return answer, record


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            answer, record = server._next(self.path)
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up on this request
            finally:
                record.finished = time.monotonic()
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def scripted_server(script: Sequence[Answer]) -> Iterator[ScriptedServer]:
    """Serve ``script`` on 127.0.0.1 (an ephemeral port) in a thread for the block."""
    state = ScriptedServer(list(script))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


async def aio_get(url: str, timeout: float | None = None) -> Response:
    """GET ``url`` (http://127.0.0.1:port/path) over asyncio streams; ``timeout`` bounds the exchange."""
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip()] = value.strip()
            body = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return Response(status, headers, body)
