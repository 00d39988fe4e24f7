"""Prometheus recording and alerting rules for the resilience metrics, from an ``ExportConfig``.

Every window and ``for`` passes through one ``Durations`` object, so the
time-scaled copy used by backtests (each divided by ``scale``) comes from this
same code and differs from the production rules in durations only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards import PANEL_IDS, ExportConfig, uid
from dashboards import queries as q
from dashboards.promql import Scope, duration, number

__all__ = ["BURN_ALERTS", "SLO_WINDOWS", "Durations", "alert_names", "rule_groups"]

SLO_WINDOWS = (("5m", 300), ("30m", 1800), ("1h", 3600), ("2h", 7200), ("6h", 21600), ("1d", 86400),
               ("3d", 259200))  # fmt: skip
"""The SRE-workbook windows (name in the recorded series, seconds)."""

BURN_ALERTS = (
    ("ErrorBudgetBurnFast", "critical", ((14.4, "1h", "5m"), (6.0, "6h", "30m"))),
    ("ErrorBudgetBurnSlow", "warning", ((3.0, "1d", "2h"), (1.0, "3d", "6h"))),
)
"""Multi-window multi-burn-rate alerts: (name, severity, ((burn rate, long window, short window), ...))."""


@dataclass(frozen=True, slots=True)
class Durations:
    """Formats every window and ``for`` of the rules, each divided by ``scale``."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.scale >= 1:
            raise ValueError(f"Durations.scale={self.scale!r}: must be >= 1")

    def __call__(self, seconds: float) -> str:
        return duration(seconds / self.scale)


def slo_record(window: str) -> str:
    """The recorded series of the SLO error ratio over ``window`` (nominal, never scaled)."""
    return f"name:resilience_slo_errors:ratio_rate{window}"


def _annotations(c: ExportConfig, alert: str, panel: str, summary: str, description: str) -> dict[str, str]:
    board = f"{c.grafana_url}/d/{uid(c)}/{c.slug}?viewPanel={PANEL_IDS[panel]}"
    return {
        "summary": summary,
        "description": description,
        "runbook_url": f"{c.runbook_url}#{alert.lower()}",
        "dashboard_url": board + "&var-name={{ $labels.name | urlquery }}",
    }


def _alert(c: ExportConfig, d: Durations, key: str, expr: str, severity: str, for_s: float,
           panel: str, summary: str, description: str) -> dict[str, Any]:  # fmt: skip
    name = c.alert_prefix + key
    rule: dict[str, Any] = {
        "alert": name,
        "expr": expr,
        "labels": {"severity": severity},
        "annotations": _annotations(c, name, panel, summary, description),
    }
    if for_s > 0:
        rule["for"] = d(for_s)
    return rule


def _src(c: ExportConfig, field: str) -> str:
    return f"{number(getattr(c, field))} ({c.source(field)})"


def _alerts(c: ExportConfig, d: Durations) -> list[dict[str, Any]]:
    s = Scope.edges(c.edges)
    w = d(c.rate_window)
    edge = "{{ $labels.name }}"
    wait = f"{number(c.open_wait_multiple)} x max open wait {_src(c, 'max_open_wait')} s"
    flapping = (
        f"({q.transitions(s, d(c.flapping_window), 'closed', 'open')} >= {c.flapping_cycles})"
        f" and ({q.transitions(s, d(c.flapping_window), 'half_open', 'closed')} >= {c.flapping_cycles})"
    )
    out = [
        _alert(c, d, "BreakerStuckOpen", f"{q.open_fraction(s)} >= {number(c.open_fraction)}", "critical",
               c.stuck_open_after, "breaker_open",
               f"Breaker of {edge} open longer than {d(c.stuck_open_after)}",
               f"At least {_src(c, 'open_fraction')} of the instances of {edge} kept their breaker open "
               f"for {wait}."),
        _alert(c, d, "BreakerFlapping", flapping, "warning", 0, "breaker_open",
               f"Breaker of {edge} keeps tripping and recovering",
               f"{c.flapping_cycles} or more trips and as many recoveries (summed over instances) within "
               f"{d(c.flapping_window)} ({c.source('flapping_cycles')})."),
        _alert(c, d, "RetryAmplificationHigh", f"{q.amplification(s, w)} > {number(c.amplification_bound)}",
               "warning", c.alert_for, "amplification", f"Retries on {edge} exceed the retry budget's bound",
               f"Attempts per request above {_src(c, 'amplification_bound')} over {w}."),
        _alert(c, d, "TimeoutRateHigh", f"{q.timeout_ratio(s, w)} > {number(c.timeout_ratio)}", "warning",
               c.alert_for, "timeouts", f"{edge}: {{{{ $labels.source }}}} timeouts above threshold",
               f"Timeouts per attempt from source {{{{ $labels.source }}}} above {_src(c, 'timeout_ratio')} "
               f"over {w}."),
        _alert(c, d, "LatencyP99AboveTimeoutBudget",
               f"{q.latency_quantile(s, w, 0.99)} > {number(c.latency_budget)}", "warning", c.alert_for,
               "request_latency", f"p99 request latency of {edge} above its timeout budget",
               f"p99 over {w} above the request timeout budget ({c.latency_budget_field}) "
               f"{_src(c, c.latency_budget_field)} s."),
        _alert(c, d, "FallbackEngaged", f"{q.fallback_ratio(s, w)} > {number(c.fallback_ratio)}", "warning",
               c.alert_for, "fallbacks", f"{edge} is answering from fallback tiers",
               f"Share of requests served by a fallback above {_src(c, 'fallback_ratio')} over {w}."),
        _alert(c, d, "AdmissionRejections", f"{q.admission_ratio(s, w)} > {number(c.admission_ratio)}",
               "warning", c.alert_for, "admission", f"Admission control on {edge} is refusing calls",
               f"Admission rejections per request above {_src(c, 'admission_ratio')} over {w}."),
    ]  # fmt: skip
    if c.budget_floor is not None:
        out.insert(3, _alert(
            c, d, "RetryBudgetExhausted", f"{q.budget_tokens(s)} < {number(c.budget_floor)}", "warning",
            c.alert_for, "budget_tokens", f"Retry budget of {edge} exhausted",
            f"Tokens available (instance average) below {_src(c, 'budget_floor')}: retries are refused.",
        ))  # fmt: skip
    budget = f"(1 - {number(c.slo_target)})"
    for key, severity, pairs in BURN_ALERTS:
        terms = []
        for rate, long, short in pairs:
            limit = f"({number(rate)} * {budget})"
            terms.append(f"({slo_record(long)} > {limit} and {slo_record(short)} > {limit})")
        secs = dict(SLO_WINDOWS)
        text = " or ".join(
            f"{number(rate)}x over {d(secs[long])} and {d(secs[short])}" for rate, long, short in pairs
        )
        out.append(_alert(
            c, d, key, " or ".join(terms), severity, 0, "slo_burn",
            f"{edge} is burning its error budget ({'page' if severity == 'critical' else 'ticket'})",
            f"Bad requests (failed, degraded, or slower than {_src(c, 'slo_latency')} s) burn the error "
            f"budget of SLO {_src(c, 'slo_target')} at {text}.",
        ))  # fmt: skip
    return out


def _records(c: ExportConfig, d: Durations) -> list[dict[str, Any]]:
    s = Scope.edges(c.edges)
    return [{"record": slo_record(name), "expr": q.slo_error_ratio(s, d(secs), c.slo_latency)}
            for name, secs in SLO_WINDOWS]  # fmt: skip


def rule_groups(config: ExportConfig, scale: float = 1.0) -> dict[str, Any]:
    """The rule file as a dict: a recording group and an alerting group; windows divided by ``scale``."""
    d = Durations(scale)
    return {
        "groups": [
            {"name": f"{config.slug}-slo-recording", "rules": _records(config, d)},
            {"name": f"{config.slug}-alerts", "rules": _alerts(config, d)},
        ]
    }


def alert_names(rules: dict[str, Any]) -> list[str]:
    """Every alert name in a rule file dict, in file order."""
    return [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
