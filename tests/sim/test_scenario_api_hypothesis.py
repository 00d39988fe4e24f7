"""Generated scenarios survive to_toml → load and to_dict → from_dict unchanged, and with_ of any of their
own settings is the identity."""

from __future__ import annotations

import tomllib
from typing import Any

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from resilience._config import ConfigError
from resilience.backoff import ConstantBackoff, EqualJitter, ExponentialBackoff, FullJitter, NoJitter
from resilience.breaker import BreakerConfig
from resilience.budget import RatioBudgetConfig, TokenBucketBudgetConfig
from resilience.retry import RetryConfig
from sim import (
    Burst,
    CapacityDrop,
    ClientGroup,
    ClosedLoop,
    Constant,
    Empirical,
    ErrorBurst,
    ErrorSpec,
    Exponential,
    Fixed,
    LatencySpike,
    Link,
    LoadLatency,
    LogNormal,
    Mixture,
    MixtureComponent,
    Outage,
    Partition,
    Poisson,
    Ramp,
    Scenario,
    Schedule,
    Service,
    TruncatedNormal,
    Uniform,
    scenario_from_dict,
)

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,5}", fullmatch=True)


def num(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


POSITIVE = num(1e-4, 5.0)
BASIC = st.one_of(
    st.builds(Constant, value=POSITIVE),
    st.builds(Exponential, mean=POSITIVE),
    st.builds(LogNormal, median=POSITIVE, sigma=num(0, 1.5)),
    st.tuples(num(0.01, 1), num(0, 1)).map(lambda t: Uniform(low=t[0], high=t[0] + t[1])),
    st.builds(
        TruncatedNormal, mean=num(0.01, 2), std=num(0.001, 1), low=num(0.001, 0.01), fold=st.booleans()
    ),
    st.lists(POSITIVE, min_size=1, max_size=4).map(lambda v: Empirical(values=tuple(v))),
)
DISTS = st.one_of(
    BASIC,
    st.lists(st.builds(MixtureComponent, weight=num(0.1, 3), dist=BASIC), min_size=1, max_size=3).map(
        lambda c: Mixture(components=tuple(c))
    ),
)
WORKLOADS = st.one_of(
    st.builds(Poisson, rate=num(0.1, 50)),
    st.builds(ClosedLoop, concurrency=st.integers(1, 5), think=DISTS),
    st.builds(Ramp, from_rate=num(0.1, 20), to_rate=num(0, 20), start=num(0, 5), length=num(0.5, 5)),
    st.builds(Burst, rate=num(0, 20), at=num(0, 5), count=st.integers(0, 50), spread=num(0, 2)),
    st.lists(num(0.5, 2), min_size=0, max_size=3).flatmap(
        lambda gaps: st.lists(num(0, 20), min_size=len(gaps) + 1, max_size=len(gaps) + 1).map(
            lambda rates: Schedule(
                steps=tuple(zip([0.0] + [sum(gaps[: i + 1]) for i in range(len(gaps))], rates, strict=True))
            )
        )
    ),
)
BACKOFFS = st.one_of(
    st.builds(ConstantBackoff, base=num(0, 1)),
    st.builds(
        ExponentialBackoff,
        base=num(0.001, 0.5),
        cap=num(0.5, 10),
        jitter=st.sampled_from([NoJitter(), FullJitter(), EqualJitter()]),
    ),
)
RETRIES = st.builds(
    RetryConfig,
    max_attempts=st.integers(1, 5),
    attempt_timeout=st.none() | num(0.05, 2),
    backoff=BACKOFFS,
)
BREAKERS = st.none() | st.integers(5, 50).flatmap(
    lambda size: st.builds(
        BreakerConfig,
        window_size=st.just(float(size)),
        minimum_calls=st.integers(1, size),
        failure_rate_threshold=num(0.05, 1),
        wait_in_open=num(0.1, 5),
    )
)
BUDGETS = st.none() | st.one_of(
    st.builds(TokenBucketBudgetConfig, capacity=st.integers(10, 100), retry_cost=st.integers(1, 10)),
    st.builds(RatioBudgetConfig, percent_can_retry=num(0.01, 1)),
)
ERRORS = st.lists(
    st.one_of(
        st.builds(ErrorSpec, probability=num(0, 0.3), status=st.sampled_from([500, 503, 429])),
        st.builds(ErrorSpec, probability=num(0, 0.3), sqlstate=st.just("40001")),
    ),
    max_size=2,
)
SERVICES = st.builds(
    Service,
    workers=st.integers(0, 8),
    queue=st.integers(-1, 50),
    discipline=st.sampled_from(["fifo", "lifo"]),
    service_time=DISTS,
    load_latency=st.none() | st.builds(LoadLatency, per_in_flight=num(0, 0.01), threshold=st.integers(0, 5)),
    errors=ERRORS.map(tuple),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    try:
        return draw(_scenarios())
    except ConfigError:  # a combination a cross rule refuses (e.g. a loop with no simulated delay)
        reject()


@st.composite
def _scenarios(draw: st.DrawFn) -> Scenario:
    services = draw(st.dictionaries(NAMES, SERVICES, min_size=1, max_size=2))
    links = draw(st.dictionaries(NAMES, st.builds(Link, latency=DISTS, loss=num(0, 0.3)), max_size=2))
    duration = draw(num(10, 100))
    warmup = draw(num(0, duration / 2))
    clients = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=2, unique=True)):
        clients[name] = ClientGroup(
            target=draw(st.sampled_from(sorted(services))),
            instances=draw(st.integers(1, 5)),
            workload=draw(st.one_of(WORKLOADS, st.builds(Fixed, requests=st.integers(1, 9), think=DISTS))),
            link=draw(st.none() | st.sampled_from(sorted(links) or [None])),
            retry=draw(RETRIES),
            breaker=draw(BREAKERS),
            budget=draw(BUDGETS),
        )
    faults = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(num(warmup, warmup + (duration - warmup) / 2))
        length = draw(num(0.1, (duration - start) / 2))
        svc = draw(st.sampled_from(sorted(services)))
        kind = draw(st.sampled_from(["outage", "capacity", "spike", "burst", "partition"]))
        if kind == "partition" and links:
            faults.append(
                Partition(target=draw(st.sampled_from(sorted(links))), start=start, duration=length)
            )
        elif kind == "capacity":
            faults.append(
                CapacityDrop(target=svc, start=start, duration=length, workers=draw(st.integers(0, 3)))
            )
        elif kind == "spike":
            faults.append(LatencySpike(target=svc, start=start, duration=length, factor=draw(num(1, 10))))
        elif kind == "burst":
            err = ErrorSpec(probability=draw(num(0, 1)), status=503)
            faults.append(ErrorBurst(target=svc, start=start, duration=length, error=err))
        else:
            faults.append(Outage(target=svc, start=start, duration=length))
    return Scenario(
        name=draw(NAMES),
        duration=duration,
        warmup=warmup,
        slo_latency=draw(num(0.05, 5)),
        bin_width=draw(st.sampled_from([0.5, 1.0, 5.0])),
        clients=clients,
        services=services,
        links=links,
        faults=tuple(faults),
    )


SETTINGS = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(scenarios(), st.booleans())
def test_to_toml_loads_back_to_an_equal_scenario(sc: Scenario, defaults: bool) -> None:
    text = sc.to_toml(defaults=defaults)
    assert scenario_from_dict(tomllib.loads(text), source="generated.toml") == sc


@SETTINGS
@given(scenarios())
def test_from_dict_of_to_dict_is_the_identity(sc: Scenario) -> None:
    assert Scenario.from_dict(sc.to_dict()) == sc


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_with_of_an_own_setting_is_the_identity(sc: Scenario, data: Any) -> None:
    params = sc.parameters(defaults=True)
    path = data.draw(st.sampled_from(sorted(params)))
    assert sc.with_(**{path: params[path]}) == sc
