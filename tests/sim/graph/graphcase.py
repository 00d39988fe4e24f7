"""Small multi-tier scenarios for the graph tests, built from plain data."""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import Any

from sim import Scenario, scenario_from_dict
from sim.graph.engine import Model, build, run_graph
from sim.graph.result import GraphResult

ZERO = {"type": "constant", "value": 0.0}


def const(value: float) -> dict[str, Any]:
    return {"type": "constant", "value": value}


def scenario(data: dict[str, Any]) -> Scenario:
    base: dict[str, Any] = {"name": "graph-test", "duration": 60.0, "warmup": 0.0, "slo_latency": 5.0}
    return scenario_from_dict({**base, **copy.deepcopy(data)}, source="<test>")


def chain(
    times: dict[str, float], *, client: dict[str, Any] | None = None, **edges: dict[str, Any]
) -> dict[str, Any]:
    """Services in a chain ``times`` order (own service time each, unlimited workers); edge ``x_y``
    from each to the next with the settings in ``edges``; one client request to the first at t = 0."""
    names = list(times)
    services: dict[str, Any] = {}
    edge_tables: dict[str, Any] = {}
    for a, b in pairwise(names):
        ename = f"{a}_{b}"
        edge_tables[ename] = {"caller": a, "target": b, **edges.get(ename, {})}
        services[a] = {
            "workers": 0,
            "service_time": const(times[a]),
            "routes": {"default": {"steps": [{"calls": [ename]}]}},
        }
    last = names[-1]
    services[last] = {"workers": 0, "service_time": const(times[last])}
    once = {"type": "burst", "rate": 0.0, "at": 0.0, "count": 1, "spread": 0.0}  # runs to the end
    group = {"target": names[0], "workload": once, **(client or {})}
    return {"clients": {"web": group}, "services": services, "edges": edge_tables}


def run(data: dict[str, Any], seed: int = 1) -> GraphResult:
    return run_graph(scenario(data), seed)


def model(data: dict[str, Any], seed: int = 1, generators: Any = None) -> Model:
    return build(scenario(data), seed, generators=generators)
