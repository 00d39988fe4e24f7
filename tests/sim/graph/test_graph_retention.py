"""A finished attempt is freed when it ends, not when its timeout would have fired.

Attempt timers are shared queues of due times (``sim.graph.expiry``, the client group's ``expiry``):
an attempt answered long before its timeout must not stay reachable from the queue, or every run
keeps timeout x rate requests alive (with their executions, deadlines and hops) for the collector
to walk. The negative control keeps the queue's reference and sees every attempt retained.
"""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import pytest
from graphcase import scenario

from sim.graph import visit as visit_module
from sim.graph.engine import build, run_model

RATE, DURATION, TIMEOUT = 300.0, 4.0, 60.0  # every attempt answered within ms; timers far beyond the end
DATA: dict[str, Any] = {
    "duration": DURATION,
    "clients": {
        "web": {
            "target": "front",
            "workload": {"type": "poisson", "rate": RATE},
            "retry": {"max_attempts": 1, "attempt_timeout": TIMEOUT},
        }
    },
    "services": {
        "front": {
            "workers": 0,
            "service_time": {"type": "constant", "value": 0.001},
            "routes": {"default": {"steps": [{"calls": ["to_back"]}]}},
        },
        "back": {"workers": 0, "service_time": {"type": "exponential", "mean": 0.002}},
    },
    "edges": {
        "to_back": {
            "caller": "front",
            "target": "back",
            "retry": {"max_attempts": 2, "attempt_timeout": TIMEOUT},
        }
    },
}


def _live_after_run() -> tuple[Counter[str], Any]:
    """Objects of the request path alive once the run is over (the result, and its model, kept)."""
    result = run_model(build(scenario(DATA), 1))
    gc.collect()
    names = {"Visit", "Call", "Request", "HopRequest", "Execution"}
    live = Counter(t for o in gc.get_objects() if (t := type(o).__qualname__) in names)
    return live, result


def test_answered_attempts_are_not_kept_alive_by_their_timers() -> None:
    live, result = _live_after_run()
    requests = sum(g.offered for g in result.model.groups.values())
    assert requests > 0.8 * RATE * DURATION
    # what is still in flight at the end: a few requests (300/s x a few ms), never the run's requests
    for name in ("Visit", "Call", "Request", "HopRequest", "Execution"):
        assert live[name] <= 20, (name, live[name], requests)


def test_negative_control_a_timer_that_keeps_its_attempt_retains_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(visit_module, "clear", lambda entry: None)  # the edge's timers keep their visits
    live, result = _live_after_run()
    requests = sum(g.offered for g in result.model.groups.values())
    assert live["Visit"] >= requests  # every edge attempt (and through it, its caller's visit)
    assert live["HopRequest"] >= requests
