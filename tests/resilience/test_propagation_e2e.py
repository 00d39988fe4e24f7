"""Two-hop deadline propagation over real HTTP on 127.0.0.1: client → A → B, B is slow and gives up first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mini_http import Message, MiniServer, call, request, response

from resilience.clock import SystemWallClock
from resilience.deadline import Deadline
from resilience.outcome import TimeoutPhase, TimeoutSource
from resilience.timeouts import (
    Counters,
    LayeredTimeouts,
    ListSink,
    PhaseTimeout,
    PropagationConfig,
    TimeoutRecorder,
    bounded,
    incoming,
    outgoing_headers,
)

pytestmark = pytest.mark.timeout(20)

CFG = PropagationConfig(per_hop_reserve=0.1, max_budget=5.0)
CONN = LayeredTimeouts(connect=1.0, read_header=1.0, read=5.0, write=1.0, idle=5.0)
TRACE = "trace-e2e-1"


def test_backend_gives_up_first_and_is_named_as_the_source() -> None:
    sink, counters = ListSink(), Counters()
    rec = TimeoutRecorder(SystemWallClock(), sink, counters)
    seen: dict[str, Any] = {}

    async def service_b(req: Message) -> Message:
        loop = asyncio.get_running_loop()
        inc = incoming(req.headers, loop.time(), CFG, source=TimeoutSource.BACKEND, counters=counters)
        seen["b_chain"], seen["b_budget"] = inc.chain, inc.budget
        try:
            await bounded(  # the slow work, bounded by the propagated deadline only
                asyncio.sleep(10),
                phase=TimeoutPhase.DEADLINE,
                source=TimeoutSource.BACKEND,
                deadline=inc.deadline,
                recorder=rec,
                trace_id=inc.trace_id or "",
                span="B",
            )
        except PhaseTimeout:
            seen["b_gave_up_at"] = loop.time()
            return response(504, [("X-Timeout-Source", "backend")])
        return response(200)

    async def service_a(req: Message) -> Message:
        loop = asyncio.get_running_loop()
        inc = incoming(req.headers, loop.time(), CFG, source=TimeoutSource.GATEWAY, counters=counters)
        seen["a_deadline"], seen["a_chain"] = inc.deadline, inc.chain
        headers = outgoing_headers(
            inc.deadline, loop.time(), trace_id=inc.trace_id, chain=inc.chain, config=CFG
        )
        seen["a_sent"] = headers
        down = await call(
            seen["b_port"],
            request("GET", "/b", headers.items()),
            CONN,
            deadline=inc.deadline,
            source=TimeoutSource.GATEWAY,
            recorder=rec,
            trace_id=inc.trace_id or "",
            span="A",
        )
        seen["a_left_when_b_answered"] = inc.deadline.remaining(loop.time())
        return response(down.status, [("X-Timeout-Source", down.header("X-Timeout-Source") or "")])

    async def main() -> Message:
        async with MiniServer(service_b, CONN) as b, MiniServer(service_a, CONN) as a:
            seen["b_port"] = b.port
            loop = asyncio.get_running_loop()
            client_deadline = Deadline.after(loop.time(), 0.7)
            headers = outgoing_headers(client_deadline, loop.time(), trace_id=TRACE, config=CFG)
            seen["client_sent"] = headers
            resp = await call(
                a.port,
                request("GET", "/a", headers.items()),
                CONN,
                deadline=client_deadline,
                recorder=rec,
                span="C",
            )
            seen["client_left"] = client_deadline.remaining(loop.time())
            return resp

    resp = asyncio.run(main())

    # the answer travelled back: B gave up, A and the client did not
    assert resp.status == 504 and resp.header("X-Timeout-Source") == "backend"
    (record,) = sink.records
    assert (record.source, record.phase, record.trace_id, record.span) == (
        TimeoutSource.BACKEND,
        TimeoutPhase.DEADLINE,
        TRACE,
        "B",
    )
    assert record.explicit  # B's deadline came from a propagated header, not a default
    assert (
        counters.value("resilience_timeouts_total", name="default", source="backend", phase="deadline") == 1
    )
    assert counters.total("resilience_timeouts_total") == 1

    # budgets shrink hop by hop: client ~600 ms (700 - 100 reserve, rounded down), then A's remaining - 100
    client_ms = int(seen["client_sent"]["X-Request-Deadline-Ms"])
    assert 590 <= client_ms <= 600 and seen["client_sent"]["X-Timeout-Chain"] == str(client_ms)
    assert seen["a_chain"] == (client_ms,)
    chain = [int(x) for x in seen["a_sent"]["X-Timeout-Chain"].split(",")]
    assert seen["b_chain"] == tuple(chain) and len(chain) == 2
    assert chain[0] == client_ms and 400 <= chain[1] <= client_ms - 100
    assert seen["b_budget"] == pytest.approx(chain[1] / 1000)

    # A's own deadline still had time when B gave up (about the reserve) and when B's answer arrived
    margin = seen["a_deadline"].expires_at - seen["b_gave_up_at"]
    assert 0.05 < margin <= 0.1 + 1e-3
    assert seen["a_left_when_b_answered"] > 0
    assert seen["client_left"] > 0
    assert counters.total("resilience_deadline_clamped_total") == 0
