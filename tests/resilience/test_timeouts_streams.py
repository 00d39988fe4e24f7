"""Phase timeouts on real sockets (127.0.0.1): each case asserts the phase that fired and its record."""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest
from mini_http import Message, MiniServer, call, request, response, send

from resilience.clock import ManualClock
from resilience.deadline import Deadline
from resilience.outcome import TimeoutPhase, TimeoutSource
from resilience.timeouts import (
    ClientConnection,
    Counters,
    LayeredTimeouts,
    ListSink,
    PhaseTimeout,
    TimeoutRecorder,
    bounded,
)

pytestmark = pytest.mark.timeout(20)


def recorder() -> tuple[TimeoutRecorder, ListSink, Counters]:
    sink, counters = ListSink(), Counters()
    return TimeoutRecorder(ManualClock(5.0), sink, counters), sink, counters


async def ok(req: Message) -> Message:
    return response(200, body=b"hello")


def test_a_fast_client_is_served_and_nothing_fires() -> None:
    async def main() -> None:
        rec, sink, counters = recorder()
        t = LayeredTimeouts(connect=1, read_header=1, read=1, write=1, idle=1)
        async with MiniServer(ok, t, recorder=rec) as srv:
            resp = await call(srv.port, request("GET", "/"), t, recorder=rec)
        assert (resp.status, resp.body) == (200, b"hello")
        assert sink.records == [] and counters.total("resilience_timeouts_total") == 0

    asyncio.run(main())


def test_slow_header_client_is_cut_at_read_header() -> None:
    async def main() -> None:
        rec, sink, counters = recorder()
        t = LayeredTimeouts(read_header=0.2, read=2.0, write=2.0, idle=2.0)
        async with MiniServer(ok, t, recorder=rec) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            loop = asyncio.get_running_loop()
            started = loop.time()
            for byte in b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n":
                if srv.fired_event.is_set():
                    break
                writer.write(bytes([byte]))
                await asyncio.sleep(0.02)
            await asyncio.wait_for(srv.fired_event.wait(), 2.0)
            elapsed = loop.time() - started
            assert await reader.read() == b""  # the server closed without answering
            writer.close()
        (fired,) = srv.fired
        assert fired.phase is TimeoutPhase.READ_HEADER and fired.source is TimeoutSource.BACKEND
        assert 0.15 <= elapsed < 1.0
        assert [r.phase for r in sink.records] == [TimeoutPhase.READ_HEADER]
        assert sink.records[0].timeout == 0.2 and sink.records[0].explicit
        assert (
            counters.value("resilience_timeouts_total", name="default", source="backend", phase="read_header")
            == 1
        )

    asyncio.run(main())


def test_silent_client_is_cut_at_read_header_counted_from_accept() -> None:
    async def main() -> None:
        rec, sink, _ = recorder()
        t = LayeredTimeouts(read_header=0.15, read=2.0)
        async with MiniServer(ok, t, recorder=rec) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            await asyncio.wait_for(srv.fired_event.wait(), 2.0)
            assert await reader.read() == b""
            writer.close()
        assert [f.phase for f in srv.fired] == [TimeoutPhase.READ_HEADER]
        assert [r.phase for r in sink.records] == [TimeoutPhase.READ_HEADER]

    asyncio.run(main())


def test_slow_body_is_cut_at_read() -> None:
    async def main() -> None:
        rec, sink, counters = recorder()
        t = LayeredTimeouts(read_header=0.1, read=0.3, write=2.0)
        async with MiniServer(ok, t, recorder=rec) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly-part")
            await asyncio.wait_for(srv.fired_event.wait(), 2.0)
            assert await reader.read() == b""
            writer.close()
        assert [f.phase for f in srv.fired] == [TimeoutPhase.READ]
        assert sink.records[0].timeout == 0.3
        assert (
            counters.value("resilience_timeouts_total", name="default", source="backend", phase="read") == 1
        )

    asyncio.run(main())


def test_slow_reader_is_cut_at_write() -> None:
    big = b"x" * (16 * 1024 * 1024)  # far beyond the socket buffers on both ends

    async def handler(req: Message) -> Message:
        return response(200, body=big)

    async def main() -> None:
        rec, sink, counters = recorder()
        t = LayeredTimeouts(read_header=1.0, read=1.0, write=0.25, idle=2.0)
        async with MiniServer(handler, t, recorder=rec, sndbuf=16384) as srv:
            loop = asyncio.get_running_loop()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", srv.port))
            await loop.sock_sendall(sock, request("GET", "/big").encode())
            started = loop.time()
            await asyncio.wait_for(srv.fired_event.wait(), 3.0)  # the client never reads
            elapsed = loop.time() - started
            sock.close()
        (fired,) = srv.fired
        assert fired.phase is TimeoutPhase.WRITE
        assert 0.2 <= elapsed < 2.0
        assert [(r.source, r.phase) for r in sink.records] == [(TimeoutSource.BACKEND, TimeoutPhase.WRITE)]
        assert (
            counters.value("resilience_timeouts_total", name="default", source="backend", phase="write") == 1
        )

    asyncio.run(main())


@pytest.mark.parametrize(("idle", "explicit"), [(0.2, True), (None, False)])
def test_idle_keep_alive_connection_is_cut_at_idle(idle: float | None, explicit: bool) -> None:
    async def main() -> None:
        rec, sink, counters = recorder()
        # idle unset falls back to read (0.2 s); read_header stays small so it is not what fires
        t = LayeredTimeouts(read_header=0.1, read=0.2, write=1.0, idle=idle)
        async with MiniServer(ok, t, recorder=rec) as srv:
            conn = await ClientConnection.open("127.0.0.1", srv.port, LayeredTimeouts(read=5.0))
            first = await send(conn, request("GET", "/1"))
            second = await send(conn, request("GET", "/2"))  # the connection is kept alive
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await conn.reader.read() == b""  # idle: the server closes
            elapsed = loop.time() - started
            conn.close()
        assert (first.status, second.status) == (200, 200)
        (fired,) = srv.fired
        assert fired.phase is TimeoutPhase.IDLE and fired.explicit is explicit
        assert 0.15 <= elapsed < 1.0
        assert sink.records[0].phase is TimeoutPhase.IDLE and sink.records[0].explicit is explicit
        assert (
            counters.value("resilience_timeouts_total", name="default", source="backend", phase="idle") == 1
        )

    asyncio.run(main())


def test_idle_longer_than_read_does_not_cut_a_request_in_progress() -> None:
    async def main() -> None:
        t = LayeredTimeouts(read_header=0.1, read=0.3, idle=5.0)
        async with MiniServer(ok, t) as srv:
            conn = await ClientConnection.open("127.0.0.1", srv.port, LayeredTimeouts(read=5.0))
            await send(conn, request("GET", "/1"))
            await asyncio.sleep(0.4)  # longer than read, shorter than idle: still open
            again = await send(conn, request("GET", "/2"))
            conn.close()
        assert again.status == 200 and srv.fired == []

    asyncio.run(main())


def test_client_is_cut_at_read_when_the_server_never_answers() -> None:
    async def never(req: Message) -> Message:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    async def main() -> None:
        rec, sink, counters = recorder()
        async with MiniServer(never, LayeredTimeouts()) as srv:
            with pytest.raises(PhaseTimeout) as info:
                await call(
                    srv.port,
                    request("GET", "/"),
                    LayeredTimeouts(read_header=0.1, read=0.2),
                    recorder=rec,
                    trace_id="t-1",
                )
        assert (info.value.phase, info.value.source) == (TimeoutPhase.READ, TimeoutSource.CLIENT)
        assert sink.records[0].trace_id == "t-1"
        assert counters.value("resilience_timeouts_total", name="default", source="client", phase="read") == 1

    asyncio.run(main())


def test_client_deadline_earlier_than_read_fires_as_deadline() -> None:
    async def never(req: Message) -> Message:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    async def main() -> None:
        rec, sink, _ = recorder()
        async with MiniServer(never, LayeredTimeouts()) as srv:
            now = asyncio.get_running_loop().time()
            deadline = Deadline.after(now, 0.15, explicit=False)
            with pytest.raises(PhaseTimeout) as info:
                await call(
                    srv.port, request("GET", "/"), LayeredTimeouts(read=5.0), deadline=deadline, recorder=rec
                )
        assert info.value.phase is TimeoutPhase.DEADLINE
        assert sink.records[0].phase is TimeoutPhase.DEADLINE and sink.records[0].explicit is False

    asyncio.run(main())


def test_connect_to_a_closed_port_fails_fast_without_a_timeout() -> None:
    async def main() -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with pytest.raises(ConnectionRefusedError):
            await ClientConnection.open("127.0.0.1", port, LayeredTimeouts(connect=1.0))

    asyncio.run(main())


def test_bounded_reports_only_its_own_expiry() -> None:
    async def inner_timeout() -> None:
        raise TimeoutError("from the operation itself")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError) as info:
            await bounded(
                inner_timeout(), phase=TimeoutPhase.READ, source=TimeoutSource.CLIENT, end=loop.time() + 5
            )
        assert not isinstance(info.value, PhaseTimeout)
        with pytest.raises(PhaseTimeout) as fired:
            await bounded(
                asyncio.sleep(5), phase=TimeoutPhase.READ, source=TimeoutSource.CLIENT, end=loop.time()
            )
        assert fired.value.phase is TimeoutPhase.READ
        assert str(fired.value) == "client timed out in phase read"
        assert (
            await bounded(asyncio.sleep(0, "v"), phase=TimeoutPhase.READ, source=TimeoutSource.CLIENT) == "v"
        )

    asyncio.run(main())


def test_client_is_cut_at_write_when_the_server_never_reads() -> None:
    body = b"x" * (32 * 1024 * 1024)  # far beyond the socket buffers on both ends

    async def main() -> None:
        rec, sink, counters = recorder()
        loop = asyncio.get_running_loop()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by the accepted socket
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        try:
            conn = await ClientConnection.open(
                "127.0.0.1",
                listener.getsockname()[1],
                LayeredTimeouts(connect=1.0, write=0.25, read=5.0),
                recorder=rec,
                trace_id="t-w",
                sock_opts=((socket.SOL_SOCKET, socket.SO_SNDBUF, 16384),),
            )
            peer, _ = await loop.sock_accept(listener)  # accepted, never read
            started = loop.time()
            with pytest.raises(PhaseTimeout) as info:
                await conn.write(request("POST", "/upload", body=body).encode())
            elapsed = loop.time() - started
            assert conn.writer.transport.is_closing()  # aborted: nothing left waiting to flush
            peer.close()
        finally:
            listener.close()
        assert (info.value.phase, info.value.source) == (TimeoutPhase.WRITE, TimeoutSource.CLIENT)
        assert info.value.timeout == 0.25 and info.value.record is sink.records[0]
        assert 0.2 <= elapsed < 2.0
        assert [(r.source, r.phase, r.trace_id) for r in sink.records] == [
            (TimeoutSource.CLIENT, TimeoutPhase.WRITE, "t-w")
        ]
        assert sink.records[0].timeout == 0.25 and sink.records[0].explicit
        assert (
            counters.value("resilience_timeouts_total", name="default", source="client", phase="write") == 1
        )
        assert counters.total("resilience_timeouts_total") == 1

    asyncio.run(main())


def test_client_is_cut_at_connect_when_the_listen_backlog_is_full() -> None:
    # A listener that never accepts: with listen(0) Linux queues one finished handshake,
    # then drops further SYNs (the client would retransmit after ~1 s); the bound cuts it.
    async def main() -> None:
        rec, sink, counters = recorder()
        loop = asyncio.get_running_loop()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        t = LayeredTimeouts(connect=0.3)
        fillers: list[socket.socket] = []
        try:
            first = await ClientConnection.open("127.0.0.1", port, t, recorder=rec)  # the queue has room
            for _ in range(3):  # make sure the accept queue stays full
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                fillers.append(s)
                err = s.connect_ex(("127.0.0.1", port))
                assert err in (0, errno.EINPROGRESS)
            await asyncio.sleep(0.05)
            started = loop.time()
            with pytest.raises(PhaseTimeout) as info:
                await ClientConnection.open("127.0.0.1", port, t, recorder=rec, trace_id="t-c")
            elapsed = loop.time() - started
            first.close()
        finally:
            for s in fillers:
                s.close()
            listener.close()
        assert (info.value.phase, info.value.source) == (TimeoutPhase.CONNECT, TimeoutSource.CLIENT)
        assert info.value.timeout == 0.3
        assert 0.25 <= elapsed < 0.9  # cut by the bound, before the first SYN retransmit
        assert [(r.source, r.phase, r.trace_id) for r in sink.records] == [
            (TimeoutSource.CLIENT, TimeoutPhase.CONNECT, "t-c")
        ]
        assert (
            counters.value("resilience_timeouts_total", name="default", source="client", phase="connect") == 1
        )
        assert counters.total("resilience_timeouts_total") == 1

    asyncio.run(main())
