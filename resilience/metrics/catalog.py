"""The one catalog of metric names, types, labels and help texts.

Prometheus conventions: counters end in ``_total``, durations are ``_seconds``
histograms, base units only. The prometheus_client exporter, the simulator's
series, the Grafana dashboards and the alert rules all read names from here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CATALOG", "LATENCY_BUCKETS", "MetricSpec", "MetricType", "metric"]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Histogram bucket bounds in seconds for every ``_seconds`` histogram."""


class MetricType(enum.Enum):
    """The Prometheus metric type of a family."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family. ``name`` is the family name as exposed (counters with ``_total``)."""

    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    @property
    def family(self) -> str:
        """The OpenMetrics family name (counters without ``_total``)."""
        if self.type is MetricType.COUNTER and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name


def _c(name: str, labels: tuple[str, ...], text: str) -> MetricSpec:
    return MetricSpec(name, MetricType.COUNTER, labels, text)


def _g(name: str, labels: tuple[str, ...], text: str) -> MetricSpec:
    return MetricSpec(name, MetricType.GAUGE, labels, text)


def _h(name: str, labels: tuple[str, ...], text: str) -> MetricSpec:
    return MetricSpec(name, MetricType.HISTOGRAM, labels, text, LATENCY_BUCKETS)


_SPECS = (
    # requests and attempts (pipeline name = the caller→target edge)
    _c("resilience_requests_total", ("name", "result", "reason"),
       "Logical requests finished, by result (success/failure/degraded) and final reason."),
    _c("resilience_attempts_total", ("name", "outcome"),
       "Attempts that left the client, by outcome kind (success/error/timeout/rejected/cancelled)."),
    _c("resilience_retries_total", ("name", "cause"),
       "Retries scheduled, by what set the delay (backoff/retry_after/retry_after_clamped)."),
    _c("resilience_retry_after_clamped_total", ("name",),
       "Server Retry-After hints longer than the configured maximum and clamped to it."),
    _c("resilience_local_rejections_total", ("name", "reason"),
       "Calls refused locally before any attempt (breaker_open/budget_exhausted)."),
    _h("resilience_request_duration_seconds", ("name", "result"),
       "End-to-end latency of logical requests, retries and waits included."),
    _h("resilience_attempt_duration_seconds", ("name", "outcome"),
       "Duration of single attempts."),
    # retry budgets
    _g("resilience_budget_tokens", ("name",), "Retry-budget tokens (or retries) available now."),
    # circuit breakers
    _g("resilience_breaker_state", ("name", "state"),
       "Circuit breaker state, one-hot: 1 for the current state, 0 for the others."),
    _c("resilience_breaker_calls_total", ("name", "kind"),
       "Calls seen by the breaker: successful/failed/slow_successful/slow_failed/ignored/not_permitted."),
    _c("resilience_breaker_transitions_total", ("name", "from_state", "to_state"),
       "Circuit breaker state transitions."),
    _g("resilience_breaker_failure_rate", ("name",), "Failure rate over the breaker's window, 0..1."),
    _g("resilience_breaker_slow_call_rate", ("name",), "Slow-call rate over the breaker's window, 0..1."),
    _c("resilience_breaker_late_outcomes_total", ("name",),
       "Outcomes of calls permitted in an earlier breaker state (generation), counted but ignored."),
    _c("resilience_listener_errors_total", ("name",),
       "Exceptions raised by user listeners (hooks), isolated from the decisions they observed."),
    # timeouts
    _c("resilience_timeouts_total", ("name", "source", "phase"),
       "Timeouts fired on an edge (name), by source (client/gateway/backend) and phase "
       "(connect/read_header/read/write/idle/attempt/deadline)."),
    _c("resilience_deadline_clamped_total", ("source",),
       "Propagated budgets larger than the receiver's maximum and cut to it."),
    # degradation and admission
    _c("resilience_fallbacks_total", ("name", "tier"),
       "Answers served by a fallback tier (cache/backup/compensation) instead of the primary."),
    _c("resilience_admission_rejections_total", ("name", "cause"),
       "Calls refused by admission control, by cause "
       "(bulkhead_full/queue_timeout/rate_limited/concurrency_limit)."),
    _g("resilience_concurrency_limit", ("name",), "Current adaptive concurrency limit."),
    _g("resilience_in_flight", ("name",), "Calls in flight through an admission gate."),
    _c("resilience_idempotency_total", ("name", "result"),
       "Idempotency-key lookups, by result (new/replayed/in_progress/conflict/state_conflict)."),
    # service tiers (tier = the service answering; replica = its index, from 0)
    _c("resilience_tier_requests_total", ("tier",),
       "Requests reaching a tier (every attempt of every caller): its offered load."),
    _c("resilience_tier_responses_total", ("tier", "result"),
       "Answers a tier sent, by result (success/error); degraded answers are successes."),
    _c("resilience_tier_rejections_total", ("tier", "cause"),
       "Requests a tier refused without serving them, by cause (connection_refused/rate_limited/"
       "bulkhead_full/concurrency_limited at its gate, queue_full/refused at a replica)."),
    _c("resilience_tier_timeouts_total", ("tier", "source", "phase"),
       "Timeouts fired at a tier (its calls' attempt timers, deadlines found passed), by source "
       "(gateway/backend) and phase (attempt/deadline)."),
    _c("resilience_tier_fallbacks_total", ("tier", "fallback"),
       "Requests a tier answered degraded, by fallback (stale cache entry, an edge's fallback, "
       "compensation queue, flood diversion)."),
    _c("resilience_tier_completed_total", ("tier",),
       "Requests a tier served to the end (answered after its own work: not shed, refused or expired)."),
    _c("resilience_tier_useful_work_total", ("tier",),
       "Successful answers of a tier that a caller still waiting used (not abandoned by a fan-out or "
       "a timeout); over completed: the useful-work ratio."),
    _c("resilience_tier_busy_seconds_total", ("tier", "replica"),
       "Worker-seconds a replica spent busy (the integral of its busy workers); over workers: utilisation."),
    _g("resilience_tier_workers", ("tier", "replica"),
       "Workers (threads) of a replica; absent for a replica with unlimited workers."),
    _g("resilience_tier_queue_length", ("tier", "replica"), "Requests waiting in a replica's queue."),
)  # fmt: skip

CATALOG: dict[str, MetricSpec] = {s.name: s for s in _SPECS}
"""Every metric family the project emits, keyed by its exposed name."""


def metric(name: str) -> MetricSpec:
    """The catalog entry for ``name``; a KeyError names the unknown metric."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"metric {name!r} is not in the catalog") from None
