"""A step's fan-out joins by its mode: all, any, first_k."""

from __future__ import annotations

from typing import Any

import pytest
from graphcase import const, run


def fan_out(mode: str, k: int | None = None, *, failing: tuple[str, ...] = ("b3",)) -> dict[str, Any]:
    """``a`` calls b1 (10 ms), b2 (50 ms) and b3 (30 ms) at once; the ``failing`` ones answer 500."""
    step: dict[str, Any] = {"calls": ["e1", "e2", "e3"], "mode": mode}
    if k is not None:
        step["k"] = k
    services: dict[str, Any] = {
        "a": {"workers": 0, "routes": {"default": {"steps": [step, {"calls": ["after"]}]}}},
        "tail": {"workers": 0},
    }
    for name, t in (("b1", 0.01), ("b2", 0.05), ("b3", 0.03)):
        services[name] = {"workers": 0, "service_time": const(t)}
        if name in failing:
            services[name]["errors"] = [{"probability": 1.0, "status": 500}]
    edges = {f"e{i}": {"caller": "a", "target": f"b{i}"} for i in (1, 2, 3)}
    edges["after"] = {"caller": "a", "target": "tail"}
    client = {"target": "a", "workload": {"type": "fixed", "requests": 1}}
    return {"clients": {"web": client}, "services": services, "edges": edges}


def outcome(data: dict[str, Any]) -> tuple[int, float | None, int]:
    """(successes, latency of the success, calls reaching the step after the fan-out)."""
    s = run(data).summary
    return s["successes"], s["latency_seconds"]["mean"], s["tiers"]["tail"]["arrivals"]


@pytest.mark.parametrize(
    ("mode", "k", "failing", "expected"),
    [
        ("all", None, ("b3",), (0, None, 0)),  # one call failed: the step fails when b3 answers
        ("all", None, (), (1, 0.05, 1)),  # answers when the slowest (b2) does
        ("any", None, ("b3",), (1, 0.01, 1)),  # the fastest success (b1) answers
        ("any", None, ("b1", "b2", "b3"), (0, None, 0)),
        ("first_k", 2, ("b3",), (1, 0.05, 1)),  # b1 and b2 must both answer
        ("first_k", 2, ("b1",), (1, 0.05, 1)),  # b3 at 30 ms and b2 at 50 ms
        ("first_k", 2, ("b1", "b3"), (0, None, 0)),  # the second failure (b3, 30 ms) decides
        ("first_k", 1, ("b1",), (1, 0.03, 1)),
    ],
)
def test_the_step_joins_by_its_mode(
    mode: str, k: int | None, failing: tuple[str, ...], expected: tuple[Any, ...]
) -> None:
    successes, latency, after = outcome(fan_out(mode, k, failing=failing))
    assert successes == expected[0]
    assert after == expected[2]
    if expected[1] is None:
        assert latency is None
    else:
        assert latency == pytest.approx(expected[1], abs=1e-9)


def test_the_same_answers_give_different_results_by_mode() -> None:
    """One failing call of three: ``all`` fails, ``any`` and ``first_k = 2`` succeed, at different times."""
    results = {m: outcome(fan_out(m, 2 if m == "first_k" else None)) for m in ("all", "any", "first_k")}
    assert results["all"][0] == 0
    assert results["any"][:2] == (1, pytest.approx(0.01))
    assert results["first_k"][:2] == (1, pytest.approx(0.05))


def test_calls_left_when_the_step_is_decided_are_not_used() -> None:
    """``any``: b2 and b3 still answer after b1 decided the step, their work unused by the caller."""
    data = fan_out("any", failing=())
    data["clients"]["web"]["workload"] = {"type": "burst", "rate": 0.0, "at": 1.0, "count": 1, "spread": 0.0}
    s = run(data).summary  # runs to the end (a fixed workload would stop the run at its last answer)
    tiers = s["tiers"]
    assert tiers["b1"]["useful_work_ratio"] == 1.0
    assert tiers["b2"]["useful_work_ratio"] == 0.0
    assert tiers["b3"]["useful_work_ratio"] == 0.0
    assert tiers["b2"]["served"] == tiers["b3"]["served"] == 1
