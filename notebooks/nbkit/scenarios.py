"""The notebooks' default scenarios (small enough to re-simulate in well under a second; the
multi-tier ones are in ``tiers`` and ``chapter5``).

Each builder returns a validated ``sim.Scenario``; in test mode
(``RWB_NOTEBOOK_TEST=1``) the timeline is shorter but keeps the same
phases (warm-up, fault, aftermath).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sim import Scenario, scenario_from_dict

from .live import test_mode

__all__ = [
    "BREAKER_DEFAULTS",
    "STORM_POLICIES",
    "breaker_scenario",
    "storm_scenario",
    "with_",
]


def with_(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """``scenario`` with fields changed by dotted path (``"clients.web.breaker.window_size"``)."""
    if hasattr(scenario, "with_"):
        return scenario.with_(**overrides)  # type: ignore[no-any-return]
    for path, value in overrides.items():  # plain dataclasses.replace, one level at a time
        scenario = _replace_path(scenario, path.split("."), value)
    return scenario


def _replace_path(obj: Any, parts: list[str], value: Any) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(obj, Mapping):
        return {**obj, head: _replace_path(obj[head], rest, value) if rest else value}
    child = getattr(obj, head)
    return dataclasses.replace(obj, **{head: _replace_path(child, rest, value) if rest else value})


def _timeline(full: dict[str, float], short: dict[str, float]) -> dict[str, float]:
    return short if test_mode() else full


# --- 02 breaker tuning --------------------------------------------------------------------------

BREAKER_DEFAULTS: dict[str, Any] = {
    "window_type": "count",
    "window_size": 50,
    "failure_rate_threshold": 0.5,
    "slow_call_duration": 0.2,
    "slow_call_rate_threshold": 0.8,
    "minimum_calls": 20,
    "wait_in_open": 2.0,
    "permitted_calls_in_half_open": 5,
    "wait_jitter": 0.2,
}


def breaker_scenario(*, timeline: Mapping[str, float] | None = None, **breaker: Any) -> Scenario:
    """Two client instances (100 req/s in all), each with a breaker, in front of a service that
    first answers 70% 503s (an error burst), later turns slow (service times x15, a latency spike).

    ``timeline`` overrides ``duration``, ``warmup``, ``errors`` and ``slow`` (fault starts) and
    ``length`` (of each fault)."""
    t = _timeline(
        {"duration": 70.0, "warmup": 5.0, "errors": 15.0, "slow": 40.0, "length": 12.0},
        {"duration": 40.0, "warmup": 5.0, "errors": 8.0, "slow": 22.0, "length": 8.0},
    )
    if timeline is not None:  # e.g. longer faults for an alert backtest
        t = {**t, **timeline}
    settings = {**BREAKER_DEFAULTS, **breaker}
    if settings["window_type"] == "count":
        settings["window_size"] = int(settings["window_size"])
    data = {
        "name": "breaker-tuning",
        "duration": t["duration"],
        "warmup": t["warmup"],
        "slo_latency": 0.5,
        "bin_width": 1.0,
        "scrape_interval": 5.0,
        "services": {
            "api": {"workers": 0, "service_time": {"type": "lognormal", "median": 0.02, "sigma": 0.4}}
        },
        "clients": {
            "web": {
                "target": "api",
                "instances": 2,
                "workload": {"type": "poisson", "rate": 100.0},
                "retry": {
                    "max_attempts": 2,
                    "attempt_timeout": 1.0,
                    "backoff": {"type": "constant", "base": 0.05},
                },
                "breaker": settings,
            }
        },
        "faults": [
            {
                "type": "error_burst",
                "target": "api",
                "start": t["errors"],
                "duration": t["length"],
                "error": {"probability": 0.7, "status": 503},
            },
            {
                "type": "latency_spike",
                "target": "api",
                "start": t["slow"],
                "duration": t["length"],
                "factor": 15.0,
            },
        ],
    }
    return scenario_from_dict(data, source="breaker-tuning")


# --- 04 retry storms ----------------------------------------------------------------------------

#: Retry policies compared in the storm notebook: naive (5 immediate attempts) and budgeted.
STORM_POLICIES = ("naive", "budgeted")

CAPACITY = 50.0  # requests per second one worker serves (mean service time 20 ms)


def storm_scenario(
    load: float = 0.75,
    trigger: float = 2.0,
    policy: str = "naive",
    *,
    capacity: int = 50,
    retry_cost: int = 5,
    timeout_cost: int = 10,
    short: bool | None = None,
) -> Scenario:
    """The flagship storm at small scale: one worker (50 req/s), ``load`` x 50 req/s offered, a x4
    slowdown lasting ``trigger`` seconds. Clients retry at once up to 5 attempts (0.3 s each, 2 s
    deadline); timed-out work keeps the worker busy. ``budgeted`` adds a token-bucket retry budget
    per instance (``capacity``, ``retry_cost``, ``timeout_cost``)."""
    if policy not in STORM_POLICIES:
        raise ValueError(f"policy={policy!r}: must be one of {', '.join(STORM_POLICIES)}")
    use_short = test_mode() if short is None else short
    t = (
        {"duration": 40.0, "warmup": 5.0, "start": 12.0}
        if use_short
        else {"duration": 60.0, "warmup": 10.0, "start": 20.0}
    )
    client: dict[str, Any] = {
        "target": "api",
        "link": "lan",
        "instances": 10,
        "workload": {"type": "poisson", "rate": CAPACITY * load},
        "retry": {
            "max_attempts": 5,
            "attempt_timeout": 1.0,
            "timeout": 5.0,
            "backoff": {"type": "constant", "base": 0.0},
        },
    }
    if policy == "budgeted":
        client["budget"] = {
            "type": "token_bucket",
            "capacity": capacity,
            "retry_cost": retry_cost,
            "timeout_cost": timeout_cost,
        }
    data = {
        "name": f"storm-{policy}",
        "duration": t["duration"],
        "warmup": t["warmup"],
        "slo_latency": 0.5,
        "bin_width": 1.0,
        "scrape_interval": 5.0,
        "services": {
            "api": {
                "workers": 1,
                "queue": 20000,
                "service_time": {"type": "exponential", "mean": 1.0 / CAPACITY},
            }
        },
        "links": {"lan": {"latency": {"type": "truncated_normal", "mean": 0.001, "std": 0.0002}}},
        "clients": {"web": client},
        "faults": [
            {
                "type": "latency_spike",
                "target": "api",
                "start": t["start"],
                "duration": trigger,
                "factor": 4.0,
            }
        ],
    }
    return scenario_from_dict(data, source=f"storm-{policy}")
