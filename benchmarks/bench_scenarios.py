"""The benchmark models as scenarios: plain M/M/4 and the same with the full resilience stack."""

from __future__ import annotations

from typing import Any

from sim.scenario.loader import scenario_from_dict
from sim.scenario.spec import Scenario

LAM, MU, SERVERS = 3.2, 1.0, 4


def plain_mmc(customers: int = 200_000, lam: float = LAM) -> Scenario:
    """M/M/4, λ = 3.2, μ = 1: one client, one attempt, no deadline, no breaker, no budget.

    Bins and scrapes are as coarse as the scenario allows (one of each per
    1000 simulated seconds): the model, not the bookkeeping, is measured.
    """
    duration = customers / lam
    return scenario_from_dict(
        {
            "name": "bench-plain-mm4",
            "warmup": 0.0,
            "duration": duration,
            "slo_latency": 10.0,
            "bin_width": max(1000.0, duration / 1000),
            "scrape_interval": max(1000.0, duration / 1000),
            "clients": {
                "arrivals": {
                    "instances": 1,
                    "target": "queue",
                    "workload": {"type": "poisson", "rate": lam},
                    "retry": {"max_attempts": 1},
                }
            },
            "services": {
                "queue": {
                    "workers": SERVERS,
                    "service_time": {"type": "exponential", "mean": 1.0 / MU},
                }
            },
        },
        source="<bench-plain>",
    )


def full_stack(
    customers: int = 200_000,
    lam: float = LAM,
    instances: int = 10,
    bin_width: float = 1.0,
    scrape_interval: float = 15.0,
) -> Scenario:
    """The same arrivals and service with 5% transient errors and every policy on.

    Errors: HTTP 503 with probability 0.05 after service. Per client instance:
    3 attempts, exponential backoff (base 50 ms, cap 1 s) with full jitter, a
    count-window breaker (100 calls, 50%), a 30 s per-attempt timeout and a
    60 s deadline (at the resulting load, rho = 0.84, an M/M/4 wait beyond 30 s
    has probability ~1e-8: the timeouts are armed but the system stays
    healthy; a 5 s timeout would time out ~6% of attempts, and the retries of
    timed-out work that keeps its worker drive this queue into collapse).
    Metrics on: 1 s bins and a 15 s scrape interval, as a Prometheus server
    would scrape. ``bin_width`` and ``scrape_interval`` change them (their
    bookkeeping is a fixed cost per simulated second, large at this low
    request rate).
    """
    data: dict[str, Any] = {
        "name": "bench-full-stack",
        "warmup": 0.0,
        "duration": customers / lam,
        "slo_latency": 10.0,
        "bin_width": bin_width,
        "scrape_interval": scrape_interval,
        "clients": {
            "callers": {
                "instances": instances,
                "target": "queue",
                "workload": {"type": "poisson", "rate": lam},
                "retry": {
                    "max_attempts": 3,
                    "attempt_timeout": 30.0,
                    "timeout": 60.0,
                    "backoff": {
                        "type": "exponential",
                        "base": 0.05,
                        "cap": 1.0,
                        "jitter": {"type": "full"},
                    },
                },
                "breaker": {
                    "window_type": "count",
                    "window_size": 100,
                    "minimum_calls": 20,
                    "failure_rate_threshold": 0.5,
                    "wait_in_open": 5.0,
                },
            }
        },
        "services": {
            "queue": {
                "workers": SERVERS,
                "service_time": {"type": "exponential", "mean": 1.0 / MU},
                "errors": [{"probability": 0.05, "status": 503}],
            }
        },
    }
    return scenario_from_dict(data, source="<bench-full>")
