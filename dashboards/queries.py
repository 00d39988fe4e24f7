"""The PromQL vocabulary shared by dashboards and alert rules.

Every expression aggregates by edge so that simulated series (one series per
edge, gauges averaged over client instances, breaker state as the fraction of
instances in each state) and production series (one series per process, a
one-hot breaker state) give the same answer: counters are ``sum by (name)``
of rates, gauges ``avg by (name)``, and "open" is the fraction of instances
whose breaker is open. ``window`` is a range (``$__rate_interval`` in
dashboards, a fixed duration in rules).
"""

from __future__ import annotations

from resilience.metrics.catalog import metric

from .promql import Scope, number

__all__ = [
    "admission_ratio",
    "admission_rejections",
    "amplification",
    "attempt_rate",
    "breaker_failure_rate",
    "budget_tokens",
    "fallback_ratio",
    "fallbacks",
    "goodput",
    "latency_quantile",
    "not_permitted",
    "open_fraction",
    "request_rate",
    "slo_error_ratio",
    "success_ratio",
    "timeout_ratio",
    "timeouts",
    "transitions",
]

# Names are looked up in the catalog at import: a renamed family fails here, not in Grafana.
REQUESTS = metric("resilience_requests_total").name
ATTEMPTS = metric("resilience_attempts_total").name
REQUEST_SECONDS = metric("resilience_request_duration_seconds").name
ATTEMPT_SECONDS = metric("resilience_attempt_duration_seconds").name
BREAKER_STATE = metric("resilience_breaker_state").name
BREAKER_CALLS = metric("resilience_breaker_calls_total").name
BREAKER_TRANSITIONS = metric("resilience_breaker_transitions_total").name
BREAKER_FAILURE_RATE = metric("resilience_breaker_failure_rate").name
BUDGET_TOKENS = metric("resilience_budget_tokens").name
TIMEOUTS = metric("resilience_timeouts_total").name
FALLBACKS = metric("resilience_fallbacks_total").name
ADMISSION = metric("resilience_admission_rejections_total").name


def _sum_rate(s: Scope, w: str, name: str, by: str = "name", **labels: str) -> str:
    return f"sum by ({by}) (rate({s.select(name, **labels)}[{w}]))"


def request_rate(s: Scope, w: str) -> str:
    """Logical requests finished per second."""
    return _sum_rate(s, w, REQUESTS)


def attempt_rate(s: Scope, w: str) -> str:
    """Attempts sent per second (first attempts and retries)."""
    return _sum_rate(s, w, ATTEMPTS)


def amplification(s: Scope, w: str) -> str:
    """Attempts per logical request (1 = no retries)."""
    return f"{attempt_rate(s, w)} / {request_rate(s, w)}"


def goodput(s: Scope, w: str) -> str:
    """Successful requests per second."""
    return _sum_rate(s, w, REQUESTS, result="success")


def success_ratio(s: Scope, w: str) -> str:
    """Share of requests that succeeded (degraded answers are not successes)."""
    return f"{goodput(s, w)} / {request_rate(s, w)}"


def latency_quantile(s: Scope, w: str, q: float, *, attempts: bool = False) -> str:
    """Quantile ``q`` of request (or attempt) durations from the histogram buckets."""
    name = ATTEMPT_SECONDS if attempts else REQUEST_SECONDS
    buckets = s.select(name, "_bucket")
    return f"histogram_quantile({number(q)}, sum by (name, le) (rate({buckets}[{w}])))"


def open_fraction(s: Scope) -> str:
    """Fraction of client instances whose breaker is open."""
    return f"avg by (name) ({s.select(BREAKER_STATE, state='open')})"


def breaker_failure_rate(s: Scope) -> str:
    """The breakers' window failure rate, averaged over instances."""
    return f"avg by (name) ({s.select(BREAKER_FAILURE_RATE)})"


def not_permitted(s: Scope, w: str) -> str:
    """Calls the breaker refused per second."""
    return _sum_rate(s, w, BREAKER_CALLS, kind="not_permitted")


def transitions(s: Scope, w: str, from_state: str, to_state: str) -> str:
    """Breaker transitions ``from_state -> to_state`` over ``w``, summed over instances."""
    sel = s.select(BREAKER_TRANSITIONS, from_state=from_state, to_state=to_state)
    return f"sum by (name) (increase({sel}[{w}]))"


def budget_tokens(s: Scope) -> str:
    """Retry-budget tokens (or retries) available, averaged over instances."""
    return f"avg by (name) ({s.select(BUDGET_TOKENS)})"


def timeouts(s: Scope, w: str) -> str:
    """Timeouts per second by source and phase."""
    return _sum_rate(s, w, TIMEOUTS, by="name, source, phase")


def timeout_ratio(s: Scope, w: str) -> str:
    """Timeouts per attempt, by source."""
    return f"{_sum_rate(s, w, TIMEOUTS, by='name, source')} / on (name) group_left () {attempt_rate(s, w)}"


def fallbacks(s: Scope, w: str) -> str:
    """Answers served per second by each fallback tier."""
    return _sum_rate(s, w, FALLBACKS, by="name, tier")


def fallback_ratio(s: Scope, w: str) -> str:
    """Share of requests answered by a fallback tier."""
    return f"{_sum_rate(s, w, FALLBACKS)} / {request_rate(s, w)}"


def admission_rejections(s: Scope, w: str) -> str:
    """Calls refused by admission control per second, by cause."""
    return _sum_rate(s, w, ADMISSION, by="name, cause")


def admission_ratio(s: Scope, w: str) -> str:
    """Admission rejections per finished request."""
    return f"{_sum_rate(s, w, ADMISSION)} / {request_rate(s, w)}"


def slo_error_ratio(s: Scope, w: str, slo_latency: float) -> str:
    """Share of bad requests: not a success, or slower than ``slo_latency`` (a bucket bound)."""
    le = repr(float(slo_latency))  # the exporter's form of bucket bounds: 1.0, 0.25
    good_sel = s.select(REQUEST_SECONDS, "_bucket", result="success", le=le)
    good = f"sum by (name) (rate({good_sel}[{w}]))"
    total = f"sum by (name) (rate({s.select(REQUEST_SECONDS, '_count')}[{w}]))"
    return f"1 - ({good} / {total})"
