"""Every scenario rule's message, in the ``<file>: <dotted.path>=<value>: <rule>`` form."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sim import ScenarioError, load_scenario, scenario_from_dict

BASE: dict[str, Any] = {
    "name": "v",
    "duration": 30.0,
    "warmup": 5.0,
    "slo_latency": 0.5,
    "clients": {"web": {"target": "api", "workload": {"type": "poisson", "rate": 10.0}}},
    "services": {"api": {"workers": 2}},
    "links": {"lan": {}},
}


def with_(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node: Any = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    node[parts[-1]] = value
    return data


CASES = [
    # scenario
    ("duration", 0, "duration=0.0: must be > 0 and finite"),
    ("warmup", -1, "warmup=-1.0: must be >= 0 and finite"),
    ("warmup", 30, "warmup=30.0: must be < duration (30.0)"),
    ("slo_latency", 0, "slo_latency=0.0: must be > 0 and finite"),
    ("bin_width", 0, "bin_width=0.0: must be > 0 and finite"),
    ("bin_width", 1e-6, "bin_width=1e-06: must give at most 1000000 bins"),
    ("scrape_interval", 1e-6, "scrape_interval=1e-06: must give at most 100000 scrapes"),
    ("epoch", -1, "epoch=-1: must be in 0..2^40"),
    ("name", "", "name='': must be a non-empty string"),
    ("bogus", 1, "bogus=1: unknown field"),
    ("clients", {}, "clients={}: must define at least one client group"),
    # client groups
    ("clients.web.target", "nope", "clients.web.target='nope': must name a service"),
    ("clients.web.link", "nope", "clients.web.link='nope': must name a link"),
    ("clients.web.instances", 0, "clients.web.instances=0: must be in 1..1000000"),
    ("clients.web.operation", "put", "clients.web.operation='put': must be call or cas"),
    ("clients.web.idempotent", 1, "clients.web.idempotent=1: must be true or false"),
    ("clients.web.fallback", "", "clients.web.fallback='': must be a non-empty string"),
    ("clients.web.retry.max_attempts", 0, "clients.web.retry.max_attempts=0: must be in 1..1000"),
    ("clients.web.retry.attempt_timeout", 0, "clients.web.retry.attempt_timeout=0.0: must be > 0 and finite"),
    (
        "clients.web.retry.backoff",
        {"type": "exponential", "cap": -1},
        "clients.web.retry.backoff.cap=-1.0: must be > 0 and finite",
    ),
    (
        "clients.web.retry.backoff",
        {"type": "exponential", "jitter": {"type": "x"}},
        "clients.web.retry.backoff.jitter.type='x': must be one of additive, decorrelated, equal, full, none, proportional",  # noqa: E501
    ),
    (
        "clients.web.breaker",
        {"failure_rate_threshold": 0},
        "clients.web.breaker.failure_rate_threshold=0.0: must be in (0, 1]",
    ),
    (
        "clients.web.budget",
        {"type": "x"},
        "clients.web.budget.type='x': must be one of adaptive, grpc, ratio, token_bucket",
    ),
    ("clients.web.budget", {"type": "token_bucket", "capacity": 0}, "clients.web.budget.capacity=0: must be"),
    (
        "clients.web.classifier",
        {"transient_statuses": [99]},
        "clients.web.classifier.transient_statuses=(99,): must be HTTP status codes 100..599",
    ),
    # workloads
    (
        "clients.web.workload",
        {"type": "x"},
        "clients.web.workload.type='x': must be one of burst, closed, fixed, poisson, ramp, schedule",
    ),
    ("clients.web.workload.rate", 0, "clients.web.workload.rate=0.0: must be > 0 and finite"),
    (
        "clients.web.workload",
        {"type": "closed", "concurrency": 0},
        "clients.web.workload.concurrency=0: must be in 1..100000",
    ),
    (
        "clients.web.workload",
        {"type": "ramp", "from_rate": 0, "to_rate": 0},
        "clients.web.workload.to_rate=0.0: from_rate and to_rate must not both be 0",
    ),
    (
        "clients.web.workload",
        {"type": "ramp", "length": 0},
        "clients.web.workload.length=0.0: must be > 0 and finite",
    ),
    (
        "clients.web.workload",
        {"type": "burst", "count": -1},
        "clients.web.workload.count=-1: must be in 0..100000000",
    ),
    (
        "clients.web.workload",
        {"type": "burst", "spread": -1},
        "clients.web.workload.spread=-1.0: must be >= 0 and finite",
    ),
    (
        "clients.web.workload",
        {"type": "schedule", "steps": [[1, 5]]},
        "clients.web.workload.steps=((1, 5),): must be [[time, rate], …] pairs >= 0, starting at time 0, times increasing",  # noqa: E501
    ),
    (
        "clients.web.workload",
        {"type": "fixed", "requests": 0},
        "clients.web.workload.requests=0: must be in 1..100000000",
    ),
    # services
    ("services.api.workers", -1, "services.api.workers=-1: must be in 0..1000000"),
    ("services.api.queue", -2, "services.api.queue=-2: must be >= 0, or -1 for unbounded"),
    ("services.api.discipline", "random", "services.api.discipline='random': must be fifo or lifo"),
    (
        "services.api.service_time",
        {"type": "exponential", "mean": 0},
        "services.api.service_time.mean=0.0: must be > 0 and finite",
    ),
    (
        "services.api.service_time",
        {"type": "uniform", "low": 2, "high": 1},
        "services.api.service_time.high=1.0: must be >= low (2.0)",
    ),
    (
        "services.api.service_time",
        {"type": "constant", "value": -1},
        "services.api.service_time.value=-1.0: must be >= 0 and finite",
    ),
    (
        "services.api.service_time",
        {"type": "truncated_normal", "std": -1},
        "services.api.service_time.std=-1.0: must be >= 0 and finite",
    ),
    (
        "services.api.service_time",
        {"type": "truncated_normal", "low": 2, "high": 1},
        "services.api.service_time.high=1.0: must be > low (2.0)",
    ),
    (
        "services.api.service_time",
        {"type": "lognormal", "median": 0},
        "services.api.service_time.median=0.0: must be > 0 and finite",
    ),
    (
        "services.api.service_time",
        {"type": "mixture", "components": []},
        "services.api.service_time.components=(): must have at least one component",
    ),
    (
        "services.api.service_time",
        {"type": "mixture", "components": [{"weight": 0}]},
        "services.api.service_time.components[0].weight=0.0: must be > 0 and finite",
    ),
    (
        "services.api.service_time",
        {"type": "empirical", "values": []},
        "services.api.service_time.values=(): must be a non-empty list of finite numbers >= 0",
    ),
    (
        "services.api.load_latency",
        {"per_in_flight": -1},
        "services.api.load_latency.per_in_flight=-1.0: must be >= 0 and finite",
    ),
    ("services.api.load_latency", {"threshold": -1}, "services.api.load_latency.threshold=-1: must be >= 0"),
    (
        "services.api.errors",
        [{"probability": 2, "status": 500}],
        "services.api.errors[0].probability=2.0: must be in [0, 1]",
    ),
    (
        "services.api.errors",
        [{"probability": 0.1}],
        "services.api.errors[0].status=None: exactly one of status, sqlstate, refuse must be set",
    ),
    (
        "services.api.errors",
        [{"probability": 0.1, "status": 700}],
        "services.api.errors[0].status=700: must be in 100..599",
    ),
    (
        "services.api.errors",
        [{"probability": 0.1, "sqlstate": "4"}],
        "services.api.errors[0].sqlstate='4': must be a 5-character SQLSTATE",
    ),
    (
        "services.api.errors",
        [{"probability": 0.1, "refuse": True, "retry_after": 1}],
        "services.api.errors[0].retry_after=1.0: needs status",
    ),
    (
        "services.api.errors",
        [{"probability": 0.1, "status": 503, "retry_after": -1}],
        "services.api.errors[0].retry_after=-1.0: must be >= 0 and finite",
    ),
    (
        "services.api.errors",
        [{"probability": 0.6, "status": 500}, {"probability": 0.6, "status": 503}],
        "services.api.errors=",
    ),
    # links
    ("links.lan.loss", 1, "links.lan.loss=1.0: must be in [0, 1)"),
    (
        "links.lan.latency",
        {"type": "uniform", "low": -1},
        "links.lan.latency.low=-1.0: must be >= 0 and finite",
    ),
    # faults
    (
        "faults",
        [{"type": "outage", "target": "api", "start": 1, "duration": 1}],
        "faults[0].start=1.0: must be >= warmup (5.0)",
    ),
    (
        "faults",
        [{"type": "outage", "target": "api", "start": 10, "duration": 0}],
        "faults[0].duration=0.0: must be > 0 and finite",
    ),
    (
        "faults",
        [{"type": "outage", "target": "api", "start": 10, "duration": 25}],
        "faults[0].duration=25.0: must end by the scenario's duration (30.0)",
    ),
    (
        "faults",
        [{"type": "outage", "target": "lan", "start": 10, "duration": 1}],
        "faults[0].target='lan': must name a service",
    ),
    (
        "faults",
        [{"type": "partition", "target": "api", "start": 10, "duration": 1}],
        "faults[0].target='api': must name a link",
    ),
    (
        "faults",
        [{"type": "latency_spike", "target": "x", "start": 10, "duration": 1}],
        "faults[0].target='x': must name a service or link",
    ),
    (
        "faults",
        [{"type": "latency_spike", "target": "api", "start": 10, "duration": 1, "factor": 0}],
        "faults[0].factor=0.0: must be > 0 and finite",
    ),
    (
        "faults",
        [{"type": "capacity_drop", "target": "api", "start": 10, "duration": 1, "workers": -1}],
        "faults[0].workers=-1: must be >= 0",
    ),
    (
        "faults",
        [{"type": "error_burst", "target": "api", "start": 10, "duration": 1, "error": {"probability": 1}}],
        "faults[0].error.status=None: exactly one of status, sqlstate, refuse must be set",
    ),
    (
        "faults",
        [{"type": "meteor", "target": "api", "start": 10, "duration": 1}],
        "faults[0].type='meteor': must be one of cache_flush, capacity_drop, error_burst, latency_spike, outage, partition",  # noqa: E501
    ),
    (
        "faults",
        [{"type": "cache_flush", "target": "api", "start": 10}],
        "faults[0].target='api': must name a service with a cache",
    ),
    (
        "faults",
        [{"type": "cache_flush", "target": "api", "start": 10, "duration": 1}],
        "faults[0].duration=1.0: must be 0 (a flush is instantaneous)",
    ),
    # cache tiers and late work
    ("services.api.cache", {"capacity": 0}, "services.api.cache.capacity=0: must be in 1..10000000"),
    (
        "services.api.cache",
        {"key_per": "trace"},
        "services.api.cache.key_per='trace': must be arrival or request",
    ),
    ("services.api.cache", {"fill_late": "yes"}, "services.api.cache.fill_late='yes': must be true or false"),
    ("services.api.serve_expired", 1, "services.api.serve_expired=1: must be true or false"),
    (
        "services.api",
        {"workers": 2, "serve_expired": True, "queue_policy": {"drop_expired": True}},
        "services.api.serve_expired=True: must be false when queue_policy.drop_expired is set",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in CASES])
def test_rule_message(path: str, value: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(with_(path, value), source="scenarios/x.toml")
    assert str(info.value).startswith("scenarios/x.toml: " + message)


@pytest.mark.parametrize("key", ["warmup", "slo_latency"])
def test_warmup_and_slo_are_required(key: str) -> None:
    data = copy.deepcopy(BASE)
    del data[key]
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s.toml")
    assert str(info.value) == f"s.toml: {key}=None: is required (every scenario declares it)"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text(
        'duration = 10\nslo_latency = 1\nwarmup = 0\n[clients.web]\ntarget = "api"\n[clients.web.retry]\n'
        "max_attempts = 0\n[services.api]\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ScenarioError, match=r"x\.toml: clients\.web\.retry\.max_attempts=0: must be in 1\.\.1000"
    ):
        load_scenario(p)
    p.write_text("duration = 1\nwarmup = = 1", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert str(info.value) == f"{p}: line 2, column 10: invalid TOML: invalid value"


def test_valid_base_and_round_trip() -> None:
    sc = scenario_from_dict(BASE)
    again = scenario_from_dict(_drop_none(sc.to_dict()))
    assert again == sc


def _drop_none(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    if isinstance(d, list):
        return [_drop_none(v) for v in d]
    return d


def _messages(data: dict[str, Any]) -> list[str]:
    """Every error line reported for ``data`` (empty when it loads)."""
    try:
        scenario_from_dict(data, source="x.toml")
    except ScenarioError as e:
        return str(e).splitlines()
    return []


def test_every_independent_error_of_a_file_is_reported_at_once() -> None:
    data = with_("clients.web.instances", 0)
    data["services"]["api"]["workers"] = -1
    data["links"]["lan"]["loss"] = 2
    data["faults"] = [{"type": "outage", "target": "nope", "start": 10, "duration": 1}]
    assert _messages(data) == [
        "x.toml: clients.web.instances=0: must be in 1..1000000",
        "x.toml: services.api.workers=-1: must be in 0..1000000",
        "x.toml: links.lan.loss=2.0: must be in [0, 1)",
        "x.toml: faults[0].target='nope': must name a service",
    ]


def test_errors_that_follow_from_a_reported_one_are_left_out() -> None:
    # the broken group is not also blamed for naming no service, nor the scenario for having no group
    data = with_("clients.web.workload", {"type": "warp"})
    data["clients"]["web"]["target"] = "nope"
    assert _messages(data) == [
        "x.toml: clients.web.workload.type='warp': must be one of burst, closed, fixed, poisson, ramp, schedule",  # noqa: E501
        "x.toml: clients.web.target='nope': must name a service",
    ]


def test_unknown_keys_suggest_the_closest_name() -> None:
    assert _messages(with_("clients.web.retry.max_attempt", 3)) == [
        "x.toml: clients.web.retry.max_attempt=3: unknown field; did you mean `max_attempts`?"
    ]
    assert _messages(with_("slo_latncy", 1)) == [
        "x.toml: slo_latncy=1: unknown field; did you mean `slo_latency`?"
    ]
    (far,) = _messages(with_("services.api.zzz", 1))
    known = "unknown field (known: balancer, cache, cancel_on_timeout,"
    assert far.startswith(f"x.toml: services.api.zzz=1: {known}")


def test_a_fault_starting_after_the_end_is_blamed_on_its_start() -> None:
    late = [{"type": "outage", "target": "api", "start": 40, "duration": 1}]
    assert _messages(with_("faults", late)) == [
        "x.toml: faults[0].start=40.0: must be < the scenario's duration (30.0)"
    ]
    long = [{"type": "outage", "target": "api", "start": 20, "duration": 11}]
    assert _messages(with_("faults", long)) == [
        "x.toml: faults[0].duration=11.0: must end by the scenario's duration (30.0)"
    ]


def test_file_level_errors(tmp_path: Path) -> None:
    p = tmp_path / "latin1.toml"
    p.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert str(info.value) == f"{p}: line 1: not UTF-8 text (byte 0xe9 at offset 11)"
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "missing.toml")
    assert str(info.value) == f"{tmp_path / 'missing.toml'}: no such file"
