"""The simulator samples breaker state as of each scrape and bin, and sampling never changes a run.

Breakers change state at due times (the end of an open wait, a half-open
round that took too long) even when no call arrives; the recorder ticks them
before it samples, so the series show half-open when it is due. Due
transitions are stamped at their due time, so how often the recorder looks
changes nothing the clients see.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from resilience.breaker import BreakerConfig
from resilience.core import RetryConfig
from sim import ClientGroup, ErrorBurst, Exponential, Poisson, Scenario, Service, run


def sparse(scrape_interval: float, bin_width: float = 1.0, **breaker: Any) -> Scenario:
    """One client calling about every 10 s into a 100 % error burst from 10 s to 200 s."""
    cfg = (
        dict(
            window_size=10,
            minimum_calls=10,
            consecutive_failures=1,
            wait_in_open=1.0,
            permitted_calls_in_half_open=1,
        )
        | breaker
    )
    return Scenario(
        name="sparse",
        duration=300.0,
        scrape_interval=scrape_interval,
        bin_width=bin_width,
        clients={
            "web": ClientGroup(
                target="api",
                instances=1,
                workload=Poisson(rate=0.1),
                retry=RetryConfig(max_attempts=1),
                breaker=BreakerConfig(**cfg),
            )
        },
        services={"api": Service(workers=1, queue=10, service_time=Exponential(mean=0.01))},
        faults=(ErrorBurst(target="api", start=10.0, duration=190.0),),
    )


def state_series(result: Any, state: str) -> list[tuple[float, float]]:
    out = []
    for t, points in result._samples.samples():
        for name, labels, value in points:
            if name == "resilience_breaker_state" and dict(labels)["state"] == state:
                out.append((t, value))
    return out


def test_the_state_series_shows_half_open_once_the_open_wait_is_over() -> None:
    """Each failing probe re-opens the breaker for 1 s; the next call comes ~10 s later. The breaker
    is half-open most of the burst, and the series must say so (it said open until the next call)."""
    result = run(sparse(1.0), seed=3)
    during = [v for t, v in state_series(result, "half_open") if 20.0 <= t <= 200.0]
    assert len(during) == 181
    assert sum(during) / len(during) >= 0.5
    opened = [v for t, v in state_series(result, "open") if 20.0 <= t <= 200.0]
    assert sum(opened) / len(opened) <= 0.3


def test_requests_and_outcomes_do_not_depend_on_the_scrape_interval() -> None:
    """Scrapes tick the breakers (every 1 s or every 15 s): same requests, outcomes and bins.

    With a half-open max wait and jitter, transitions fall due between calls over and over, each
    drawing from the breaker's rng, so the ticks interleave differently with the calls. Bins are
    15 s wide in both runs, so only the scrapes tick in between."""
    breaker = dict(max_wait_in_half_open=0.5, wait_jitter=0.3, wait_multiplier=2.0, wait_max=4.0)
    fine = run(sparse(1.0, 15.0, **breaker), seed=11)
    coarse = run(sparse(15.0, 15.0, **breaker), seed=11)
    assert len(fine._samples) > 10 * len(coarse._samples)  # the runs did sample differently
    events = "events"  # simulated events include the scrapes themselves
    assert {k: v for k, v in fine.summary.items() if k != events} == {
        k: v for k, v in coarse.summary.items() if k != events
    }
    assert fine.summary["breakers"]["web->api"]["opened"] > 10
    pd.testing.assert_frame_equal(fine.bins, coarse.bins, check_exact=False, rtol=1e-12, atol=1e-9)
    assert fine.offered_per_second == coarse.offered_per_second
    assert fine.goodput_per_second == coarse.goodput_per_second
