"""The export config: clear errors, sources, tuned values reaching the artefacts unchanged."""

from __future__ import annotations

import pytest
import yaml
from exportkit import config, matchers, numbers, panels, selectors

import alerts
import dashboards
from dashboards.promql import Scope, duration, escape, number
from resilience import ConfigError
from resilience.breaker import BreakerConfig
from resilience.budget import GrpcRetryThrottleConfig, RatioBudgetConfig, TokenBucketBudgetConfig
from resilience.retry import RetryConfig


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"edges": ()}, "ExportConfig.edges=(): must name at least one edge"),
        ({"edges": ("a", "")}, "ExportConfig.edges=('a', ''): must be non-empty names"),
        ({"failure_rate_threshold": 0.0}, "ExportConfig.failure_rate_threshold=0.0: must be in (0, 1]"),
        ({"slo_target": 1.0}, "ExportConfig.slo_target=1.0: must be in (0, 1)"),
        ({"slo_latency": 0.3}, "ExportConfig.slo_latency=0.3: must be a histogram bucket bound"),
        (
            {"timeout": None, "attempt_timeout": None},
            "ExportConfig.timeout=None: set timeout or attempt_timeout",
        ),
        ({"attempt_timeout": 3.0}, "ExportConfig.attempt_timeout=3.0: must be <= timeout (2.0)"),
        ({"slug": "Bad Slug"}, "ExportConfig.slug='Bad Slug': must be 1-30 characters"),
        ({"alert_prefix": "lower"}, "ExportConfig.alert_prefix='lower': must be CamelCase"),
        ({"grafana_url": "ftp://x"}, "ExportConfig.grafana_url='ftp://x': must be an http(s) URL"),
        ({"sources": (("nope", "x"),)}, "ExportConfig.sources=(('nope', 'x'),): names unknown field 'nope'"),
    ],
)
def test_bad_values_are_named_with_their_rule(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(**overrides)
    assert str(info.value).startswith(message)


def test_plain_data_round_trip() -> None:
    c = config()
    assert dashboards.ExportConfig.from_dict(c.to_dict()) == c


def test_thresholds_come_from_the_policies_with_their_source() -> None:
    breaker = BreakerConfig(failure_rate_threshold=0.37, wait_in_open=10.0, wait_multiplier=2.0,
                            wait_max=40.0, wait_jitter=0.25)  # fmt: skip
    retry = RetryConfig(max_attempts=4, attempt_timeout=0.05, timeout=0.137)
    c = dashboards.from_policies(["web->api"], breaker=breaker, retry=retry,
                                 budget=TokenBucketBudgetConfig(retry_cost=8, no_retry_increment=1),
                                 slo_target=0.995, slo_latency=0.25)  # fmt: skip
    assert (c.failure_rate_threshold, c.max_open_wait, c.timeout, c.attempt_timeout) == (
        0.37,
        50.0,
        0.137,
        0.05,
    )
    assert c.amplification_bound == 1.125 and c.budget_floor == 8.0
    assert c.source("max_open_wait") == "BreakerConfig.wait_max x (1 + wait_jitter)"
    assert c.source("amplification_bound") == "1 + TokenBucketBudgetConfig.no_retry_increment / retry_cost"
    assert c.source("timeout_ratio") == "ExportConfig default"
    ratio = dashboards.from_policies(["e"], breaker=breaker, retry=retry, budget=RatioBudgetConfig(
        percent_can_retry=0.1), slo_target=0.99, slo_latency=1.0)  # fmt: skip
    assert ratio.amplification_bound == 1.1
    grpc = dashboards.from_policies(["e"], breaker=breaker, retry=retry, budget=GrpcRetryThrottleConfig(),
                                    slo_target=0.99, slo_latency=1.0, timeout_ratio=0.2)  # fmt: skip
    assert grpc.amplification_bound == 4.0 and grpc.source("amplification_bound").startswith("RetryConfig")
    assert grpc.budget_floor == pytest.approx(5.001) and grpc.timeout_ratio == 0.2


def test_the_tuned_values_reach_dashboards_and_alerts_unchanged() -> None:
    c = dashboards.from_policies(
        ["web->api"], breaker=BreakerConfig(failure_rate_threshold=0.37),
        retry=RetryConfig(attempt_timeout=0.05, timeout=0.137),
        budget=TokenBucketBudgetConfig(retry_cost=8), slo_target=0.999, slo_latency=1.0,
    )  # fmt: skip
    board = {p["title"]: p for p in panels(dashboards.build(c)["rwb-resilience.json"])}

    def lines(title: str) -> list[float]:
        steps = board[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        return [s["value"] for s in steps if s["value"] is not None]

    assert lines("Breaker failure rate") == [0.37]
    assert lines("Request latency p50 / p99") == [0.137]
    assert lines("Attempt latency p50 / p99") == [0.05]
    assert lines("Retry amplification") == [1.125]
    rules = {r["alert"]: r for r in yaml.safe_load(alerts.build(c)["rules.yml"])["groups"][1]["rules"]}
    assert numbers(rules["ResilienceLatencyP99AboveTimeoutBudget"]["expr"]) == [0.99, 0.137]
    assert numbers(rules["ResilienceRetryAmplificationHigh"]["expr"]) == [1.125]
    assert numbers(rules["ResilienceRetryBudgetExhausted"]["expr"]) == [8.0]


def test_label_values_are_escaped_in_promql() -> None:
    edge = 'we"b\\->a|p.i'
    c = config(edges=(edge,))
    rules = yaml.safe_load(alerts.build(c)["rules.yml"])
    for group in rules["groups"]:
        for rule in group["rules"]:
            for sel in selectors(rule["expr"]):
                if not sel.name.startswith("name:"):  # recorded series carry the edge already
                    assert matchers(sel)["name"] == ("=", edge)
    two = Scope.edges((edge, "x->y"))
    sel = selectors(f"sum by (name) ({two.select('resilience_budget_tokens')})")[0]
    assert matchers(sel)["name"] == ("=~", 'we"b\\\\->a\\|p\\.i|x->y')
    assert escape('a"\n') == 'a\\"\\n'


def test_numbers_and_durations_are_exact() -> None:
    assert number(0.137) == "0.137" and number(5.0) == "5" and number(1e-4) == "0.0001"
    assert duration(90) == "1m30s" and duration(0.137) == "137ms" and duration(86400 * 3) == "3d"
    with pytest.raises(ValueError, match="at least 1 ms"):
        duration(0.0001)
    with pytest.raises(ValueError, match="no label 'colour'"):
        Scope.edges(("a",)).select("resilience_requests_total", colour="red")
    with pytest.raises(KeyError, match="not in the catalog"):
        Scope.edges(("a",)).select("resilience_nope_total")
