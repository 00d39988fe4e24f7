"""Models that would re-issue requests with no simulated delay are refused when loaded.

The reproduction: a closed loop with zero think time against a service in an
outage, one attempt, no link. Each refusal is synchronous, the user re-issues at
once, and the run used to end in ``RecursionError``.
"""

from __future__ import annotations

import copy
from typing import Any

from sim import ScenarioError, run, scenario_from_dict

OUTAGE: dict[str, Any] = {
    "name": "zero",
    "duration": 6.0,
    "warmup": 1.0,
    "slo_latency": 1.0,
    "clients": {
        "web": {
            "target": "api",
            "workload": {"type": "closed", "concurrency": 2},
            "retry": {"max_attempts": 1},
        }
    },
    "services": {"api": {"workers": 1, "service_time": {"type": "exponential", "mean": 0.01}}},
    "faults": [{"type": "outage", "target": "api", "start": 2.0, "duration": 1.0}],
}
THINK = "x.toml: clients.web.workload.think={'type': 'constant', 'value': 0.0}: must not be 0 here: "


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(OUTAGE)
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return data


def errors(data: dict[str, Any]) -> list[str]:
    try:
        scenario_from_dict(data, source="x.toml")
    except ScenarioError as e:
        return str(e).splitlines()
    return []


def test_zero_think_closed_loop_during_an_outage_is_refused() -> None:
    assert errors(OUTAGE) == [
        THINK + "a request can end with no simulated delay (no link, services.api refuses connections "
        "during faults[0], max_attempts = 1), so users would re-issue requests forever at one instant"
    ]


def test_every_zero_delay_path_is_refused() -> None:
    cases = {
        "zero link latency": variant(
            clients__web__link="lan", links={"lan": {"latency": {"type": "constant", "value": 0}}}
        ),
        "zero backoff": variant(
            clients__web__retry={"max_attempts": 3, "backoff": {"type": "constant", "base": 0}}
        ),
        "retry budget": variant(
            clients__web__retry={"max_attempts": 3}, clients__web__budget={"type": "token_bucket"}
        ),
        "open breaker": variant(faults=[], clients__web__breaker={}),
        "zero service time": variant(faults=[], services__api__service_time={"type": "constant"}),
        "fast error": variant(
            faults=[], services__api__errors=[{"probability": 0.3, "status": 503, "fast": True}]
        ),
        "full queue": variant(faults=[], services__api__queue=0),
        "fixed requests": variant(clients__web__workload={"type": "fixed", "requests": 500}),
        "empirical think with a zero": variant(
            clients__web__workload={"type": "closed", "think": {"type": "empirical", "values": [0, 1]}}
        ),
    }
    for name, data in cases.items():
        found = errors(data)
        assert len(found) == 1, name
        message = found[0]
        assert message.startswith("x.toml: clients.web.workload.think="), name
        assert "must not be 0 here: a request can end with no simulated delay" in message, name


def test_models_where_time_always_passes_load_and_run() -> None:
    """Negative controls: each one removes one zero-delay ingredient and must run to the end."""
    cases = {
        "think time": variant(
            clients__web__workload={"type": "closed", "think": {"type": "constant", "value": 0.01}}
        ),
        "link latency": variant(
            clients__web__link="lan", links={"lan": {"latency": {"type": "constant", "value": 0.001}}}
        ),
        "backoff": variant(clients__web__retry={"max_attempts": 3}),
        "one request each": variant(clients__web__workload={"type": "fixed", "requests": 1}),
        "no instant answer": variant(faults=[]),
    }
    for name, data in cases.items():
        assert errors(data) == [], name
        r = run(scenario_from_dict(data), 1)
        assert r.sim_seconds > 0, name
