"""Small scenarios shared by the simulator tests."""

from __future__ import annotations

from typing import Any

from resilience.core import ExponentialBackoff, FullJitter, RetryConfig
from sim import (
    ClientGroup,
    Exponential,
    LatencySpike,
    Link,
    Poisson,
    Scenario,
    Service,
    TruncatedNormal,
)

# The flagship retry-storm scenarios cut to 12 s at 120 requests/s (``scenario.with_(**STORM_SMALL)``).
STORM_SMALL = {
    "duration": 12.0,
    "warmup": 2.0,
    "faults[0].start": 4.0,
    "faults[0].duration": 2.0,
    "clients.web.workload.rate": 120.0,
    "clients.web.instances": 5,
    "services.api.workers": 2,
}


def identity(s: dict[str, Any]) -> tuple[int, int]:
    """(requests, successes + Σ degraded + Σ failures + in_flight_at_end)."""
    return s["requests"], s["successes"] + sum(s["degraded"].values()) + sum(s["failures"].values()) + s[
        "in_flight_at_end"
    ]


def small(**changes: Any) -> Scenario:
    """A short, lightly loaded scenario with retries, a link and a latency spike."""
    base = dict(
        name="small",
        duration=20.0,
        warmup=2.0,
        slo_latency=0.2,
        clients={
            "web": ClientGroup(
                target="api",
                instances=4,
                link="lan",
                workload=Poisson(rate=200.0),
                retry=RetryConfig(
                    max_attempts=3,
                    attempt_timeout=0.1,
                    backoff=ExponentialBackoff(base=0.01, cap=0.5, jitter=FullJitter()),
                ),
            )
        },
        services={"api": Service(workers=4, queue=100, service_time=Exponential(mean=0.01))},
        links={"lan": Link(latency=TruncatedNormal(mean=0.001, std=0.0002))},
        faults=(LatencySpike(target="api", start=8.0, duration=2.0, factor=5.0),),
    )
    base.update(changes)
    return Scenario(**base)  # type: ignore[arg-type]
