"""A SimPy workbench in which every resilience decision is made by the real ``resilience`` library."""

from __future__ import annotations

from sim.engine import run
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
from sim.scenario.spec import (
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

__all__ = [
    "Burst",
    "CapacityDrop",
    "ClientGroup",
    "ClosedLoop",
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
    "load_scenario",
    "run",
    "run_many",
    "scenario_from_dict",
]
