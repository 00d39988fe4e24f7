"""Trace parity two hops down: the decisions of the edge ``b -> c`` (client -> a -> b -> c) in the
simulation equal those of the same pipeline driven by the library's sync driver with a fake clock,
when ``c`` gives the same answers at the same times (the single-tier cases of
``tests/sim/test_trace_parity_simpy.py``, with ``c``'s random draws scripted)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "resilience")]

from graphcase import model  # noqa: E402
from scripted import http, ok, play, run_sync  # noqa: E402
from test_trace_parity import make_pipeline  # noqa: E402
from test_trace_parity_simpy import CLIENT_CASES, ERRORS, LINK, SERVE, ScriptedDraws, ServiceScript  # noqa: E402

from resilience.core import EventKind, Pipeline, RetryConfig, TraceEvent  # noqa: E402


def graph(script: ServiceScript) -> dict[str, Any]:
    c = {
        "workers": script.workers,
        "service_time": {"type": "exponential", "mean": 1.0},
        "errors": [e.to_dict() for e in ERRORS],
        "cancel_on_timeout": script.cancel_on_timeout,
    }
    return {
        "clients": {
            "web": {
                "target": "a",
                "workload": {"type": "burst", "rate": 0.0, "at": 1.0, "count": 1, "spread": 0.0},
            }
        },
        "services": {
            "a": {"workers": 0, "routes": {"default": {"steps": [{"calls": ["a_b"]}]}}},
            "b": {"workers": 0, "routes": {"default": {"steps": [{"calls": ["b_c"]}]}}},
            "c": c,
        },
        "links": {"lan": {"latency": {"type": "constant", "value": LINK}}},
        "edges": {
            "a_b": {"caller": "a", "target": "b"},
            "b_c": {
                "caller": "b",
                "target": "c",
                "link": "lan",
                "operation": script.operation,
                "retry": {"max_attempts": 1},
            },
        },
    }


def one_attempt() -> Pipeline:
    """The first hop's pipeline: one attempt, no timeout (so b's deadline is b_c's own)."""
    return Pipeline(RetryConfig(max_attempts=1), rng=random.Random(1), name="first-hop")


def simulate(script: ServiceScript, timeout: float) -> tuple[list[TraceEvent], list[TraceEvent], Any]:
    """The traces of edges ``b_c`` (the parity pipeline) and ``a_b`` (``one_attempt``), and the model."""

    def generators(component: str, purpose: str) -> Any:
        if component == "services.c":
            return (
                ScriptedDraws(script.service, 0.0)
                if purpose == "service"
                else ScriptedDraws(script.draws, SERVE)
            )
        return m_streams.generator(component, purpose)

    from sim.model.streams import Streams

    m_streams = Streams(1)
    m = model(graph(script), generators=generators)
    traces: dict[str, list[TraceEvent]] = {"a_b": [], "b_c": []}
    for tier, edge in (("a", "a_b"), ("b", "b_c")):
        e = m.tiers[tier].edges[0][edge]
        pipe = make_pipeline(timeout) if edge == "b_c" else one_attempt()
        pipe.add_listener(lambda _source, event, out=traces[edge]: out.append(event))
        e.pipeline = pipe
        e.classifier = pipe.classifier
    m.env.run(until=m.sc.duration)
    return traces["b_c"], traces["a_b"], m


def same(ours: list[TraceEvent], ref: list[TraceEvent]) -> None:
    """Decisions equal field by field; times relative to the first event equal up to rounding."""
    assert [(e.kind, e.attempt, e.label, e.evidence) for e in ours] == [
        (e.kind, e.attempt, e.label, e.evidence) for e in ref
    ]
    assert [e.time - ours[0].time for e in ours] == pytest.approx(
        [e.time - ref[0].time for e in ref], abs=1e-9
    )
    assert [e.value for e in ours] == pytest.approx([e.value for e in ref], abs=1e-9)


@pytest.mark.parametrize("name", sorted(CLIENT_CASES))
def test_the_second_hop_gives_the_sync_drivers_trace(name: str) -> None:
    replies, script, timeout = CLIENT_CASES[name]
    bc, ab, m = simulate(script, timeout)
    ref = play(run_sync, lambda: make_pipeline(timeout), replies)
    assert len(ref.trace) > 4
    same(bc, ref.trace)
    stats = m.edge_stats["b_c"]
    assert stats.attempts == ref.calls
    # the first hop saw one attempt whose answer is the second hop's result, at the time it came
    outcomes = [e for e in bc if e.kind is EventKind.OUTCOME]
    elapsed = outcomes[-1].time - bc[0].time
    if ref.error is None:
        first = ok(elapsed)
    else:  # b answers 504 when its call ran out of time, else 503
        reason = ref.error.reason.value  # type: ignore[attr-defined]
        first = http(504 if reason == "deadline_exceeded" else 503, elapsed)
    same(ab, play(run_sync, one_attempt, [first]).trace)


def test_a_different_answer_changes_the_trace() -> None:
    """Negative control: the 'mixed' replies against a service that never refuses."""
    replies, script, timeout = CLIENT_CASES["mixed"]
    changed = ServiceScript((SERVE, *script.draws[1:]), script.service)
    bc, _, _ = simulate(changed, timeout)
    ref = play(run_sync, lambda: make_pipeline(timeout), replies)
    assert [e.evidence for e in bc] != [e.evidence for e in ref.trace]
