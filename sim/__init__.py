"""A SimPy workbench in which every resilience decision is made by the real ``resilience`` library.

Names load on first use, so ``import sim`` (and the pytest plugin ``sim.pytest_plugin``) costs nothing
until a simulation is asked for, and works without the ``sim`` extras installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.native import start

start()  # a compiled build (``make native``) must match its sources; RWB_PURE=1 runs the sources

if TYPE_CHECKING:
    from sim.engine import run
    from sim.experiments.compare import compare
    from sim.experiments.grid import sweep as sweep_grid
    from sim.experiments.tune import tune
    from sim.model.streams import Streams
    from sim.observe.result import RunResult
    from sim.scenario.distributions import (
        Constant,
        Distribution,
        Empirical,
        Exponential,
        LogNormal,
        Mixture,
        MixtureComponent,
        TruncatedNormal,
        Uniform,
    )
    from sim.scenario.loader import ScenarioError, load_scenario, scenario_from_dict
    from sim.scenario.queues import AdaptiveLifo, CoDel, QueuePolicy
    from sim.scenario.spec import (
        CacheFlush,
        CapacityDrop,
        ClientGroup,
        ErrorBurst,
        ErrorSpec,
        Fault,
        LatencySpike,
        Link,
        LoadLatency,
        Outage,
        Partition,
        Scenario,
        Service,
    )
    from sim.scenario.workloads import Burst, ClosedLoop, Fixed, Poisson, Ramp, Schedule, Workload
    from sim.sweep import run_many

_WHERE: dict[str, tuple[str, str]] = {
    "AdaptiveLifo": ("sim.scenario.queues", "AdaptiveLifo"),
    "Burst": ("sim.scenario.workloads", "Burst"),
    "CacheFlush": ("sim.scenario.spec", "CacheFlush"),
    "CapacityDrop": ("sim.scenario.spec", "CapacityDrop"),
    "ClientGroup": ("sim.scenario.spec", "ClientGroup"),
    "ClosedLoop": ("sim.scenario.workloads", "ClosedLoop"),
    "CoDel": ("sim.scenario.queues", "CoDel"),
    "Constant": ("sim.scenario.distributions", "Constant"),
    "Distribution": ("sim.scenario.distributions", "Distribution"),
    "Empirical": ("sim.scenario.distributions", "Empirical"),
    "ErrorBurst": ("sim.scenario.spec", "ErrorBurst"),
    "ErrorSpec": ("sim.scenario.spec", "ErrorSpec"),
    "Exponential": ("sim.scenario.distributions", "Exponential"),
    "Fault": ("sim.scenario.spec", "Fault"),
    "Fixed": ("sim.scenario.workloads", "Fixed"),
    "LatencySpike": ("sim.scenario.spec", "LatencySpike"),
    "Link": ("sim.scenario.spec", "Link"),
    "LoadLatency": ("sim.scenario.spec", "LoadLatency"),
    "LogNormal": ("sim.scenario.distributions", "LogNormal"),
    "Mixture": ("sim.scenario.distributions", "Mixture"),
    "MixtureComponent": ("sim.scenario.distributions", "MixtureComponent"),
    "Outage": ("sim.scenario.spec", "Outage"),
    "Partition": ("sim.scenario.spec", "Partition"),
    "Poisson": ("sim.scenario.workloads", "Poisson"),
    "QueuePolicy": ("sim.scenario.queues", "QueuePolicy"),
    "Ramp": ("sim.scenario.workloads", "Ramp"),
    "RunResult": ("sim.observe.result", "RunResult"),
    "Scenario": ("sim.scenario.spec", "Scenario"),
    "ScenarioError": ("sim.scenario.loader", "ScenarioError"),
    "Schedule": ("sim.scenario.workloads", "Schedule"),
    "Service": ("sim.scenario.spec", "Service"),
    "Streams": ("sim.model.streams", "Streams"),
    "TruncatedNormal": ("sim.scenario.distributions", "TruncatedNormal"),
    "Uniform": ("sim.scenario.distributions", "Uniform"),
    "Workload": ("sim.scenario.workloads", "Workload"),
    "compare": ("sim.experiments.compare", "compare"),
    "load_scenario": ("sim.scenario.loader", "load_scenario"),
    "run": ("sim.engine", "run"),
    "run_many": ("sim.sweep", "run_many"),
    "scenario_from_dict": ("sim.scenario.loader", "scenario_from_dict"),
    "sweep_grid": ("sim.experiments.grid", "sweep"),
    "tune": ("sim.experiments.tune", "tune"),
}

__all__ = [
    "AdaptiveLifo",
    "Burst",
    "CacheFlush",
    "CapacityDrop",
    "ClientGroup",
    "ClosedLoop",
    "CoDel",
    "Constant",
    "Distribution",
    "Empirical",
    "ErrorBurst",
    "ErrorSpec",
    "Exponential",
    "Fault",
    "Fixed",
    "LatencySpike",
    "Link",
    "LoadLatency",
    "LogNormal",
    "Mixture",
    "MixtureComponent",
    "Outage",
    "Partition",
    "Poisson",
    "QueuePolicy",
    "Ramp",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Schedule",
    "Service",
    "Streams",
    "TruncatedNormal",
    "Uniform",
    "Workload",
    "compare",
    "load_scenario",
    "run",
    "run_many",
    "scenario_from_dict",
    "sweep_grid",
    "tune",
]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'sim' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
