"""The prometheus_client exporter: exact samples after scripted executions on a manual clock."""

from __future__ import annotations

import builtins
import enum
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import resilience.execution
from resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from resilience.core import (
    Attempt,
    ConstantBackoff,
    EventKind,
    ManualClock,
    Outcome,
    OutcomeKind,
    Pipeline,
    RetryConfig,
    TraceEvent,
    Wait,
)
from resilience.metrics import CATALOG, LATENCY_BUCKETS
from resilience.metrics.prometheus import PrometheusExporter
from resilience.protocols import Grant, Permit

OK = Outcome.success()
TIMEOUT = Outcome.timeout()
FATAL = Outcome.error("http_404", retryable=False)


def busy(retry_after: float | None = None) -> Outcome:
    return Outcome.rejected("http_503", retry_after=retry_after)


def run(p: Pipeline, outcomes: Sequence[Outcome], clock: ManualClock, duration: float = 0.25) -> object:
    """Drive one request on the manual clock; each attempt takes ``duration``."""
    ex = p.begin(clock.now())
    script = list(outcomes)
    step = ex.next(clock.now())
    while isinstance(step, (Attempt, Wait)):
        if isinstance(step, Attempt):
            clock.advance(duration)
            step = ex.next(clock.now(), script.pop(0))
        else:
            clock.sleep(step.delay)
            step = ex.next(clock.now())
    assert not script
    return step


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def exporter(registry: CollectorRegistry) -> PrometheusExporter:
    return PrometheusExporter(registry)


def value(registry: CollectorRegistry, metric: str, /, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


class RefusingBreaker:
    name = "b"

    def try_acquire(self, now: float) -> Permit | None:
        return None

    def release(self, permit: Permit, now: float) -> None: ...

    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None: ...

    def seconds_until_probe(self, now: float) -> float | None:
        return None


class RefusingBudget:
    def on_request(self, now: float) -> bool:
        return False

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        return None

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None: ...

    def refund(self, grant: Grant, now: float) -> None: ...

    def available(self, now: float) -> float:
        return 0.0


# ---------------------------------------------------------------------------
# registration


def test_every_catalog_family_is_registered(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    text = generate_latest(registry).decode()
    for spec in CATALOG.values():
        assert f"# TYPE {spec.name} {spec.type.value}\n" in text, spec.name
        assert f"# HELP {spec.name} {spec.help}\n" in text, spec.name


def test_a_second_exporter_on_the_same_registry_is_refused(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        PrometheusExporter(registry)


def test_histograms_use_the_catalog_buckets(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    exporter.metric("resilience_attempt_duration_seconds").labels("x", "success").observe(0.003)
    for le in LATENCY_BUCKETS:
        expected = 1.0 if le >= 0.003 else 0.0
        sample = value(
            registry, "resilience_attempt_duration_seconds_bucket", name="x", outcome="success", le=str(le)
        )
        assert sample == expected


def test_metric_gives_the_client_object(registry: CollectorRegistry, exporter: PrometheusExporter) -> None:
    exporter.metric("resilience_fallbacks_total").labels("api", "cache").inc(2)
    assert value(registry, "resilience_fallbacks_total", name="api", tier="cache") == 2.0
    with pytest.raises(KeyError, match="resilience_nope"):
        exporter.metric("resilience_nope")


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_prometheus(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "prometheus_client" or name.startswith("prometheus_client."):
            raise ImportError("No module named 'prometheus_client'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_prometheus)
    monkeypatch.delitem(sys.modules, "resilience.metrics.prometheus", raising=False)
    module = importlib.import_module("resilience.metrics.prometheus")  # importing alone needs nothing
    with pytest.raises(ImportError, match=r"pip install 'resilience-workbench\[prometheus\]'"):
        module.PrometheusExporter(CollectorRegistry())


def test_importing_resilience_does_not_import_prometheus_client() -> None:
    import subprocess

    code = "import resilience, resilience.metrics, sys; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# pipeline events


def test_scripted_execution_gives_exact_samples(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    clock = ManualClock()
    retry = RetryConfig(
        max_attempts=3, attempt_timeout=1.0, backoff=ConstantBackoff(base=0.5), max_retry_after=2.0
    )
    api = Pipeline(retry, listeners=[exporter], name="api")
    # request 1: attempt timeout → backoff 0.5 → 503 with Retry-After 30 (clamped to 2) → success
    run(api, [TIMEOUT, busy(30.0), OK], clock)
    # request 2: a permanent error
    run(api, [FATAL], clock)
    # request 3 and 4: refused locally
    run(Pipeline(retry, budget=RefusingBudget(), listeners=[exporter], name="db"), [], clock)
    run(Pipeline(retry, breaker=RefusingBreaker(), listeners=[exporter], name="db"), [], clock)

    assert value(registry, "resilience_requests_total", name="api", result="success", reason="") == 1.0
    assert (
        value(registry, "resilience_requests_total", name="api", result="failure", reason="permanent_error")
        == 1.0
    )
    assert (
        value(registry, "resilience_requests_total", name="db", result="failure", reason="budget_exhausted")
        == 1.0
    )
    assert (
        value(registry, "resilience_requests_total", name="db", result="failure", reason="breaker_open")
        == 1.0
    )

    assert value(registry, "resilience_attempts_total", name="api", outcome="timeout") == 1.0
    assert value(registry, "resilience_attempts_total", name="api", outcome="rejected") == 1.0
    assert value(registry, "resilience_attempts_total", name="api", outcome="success") == 1.0
    assert value(registry, "resilience_attempts_total", name="api", outcome="error") == 1.0
    assert value(registry, "resilience_attempts_total", name="db", outcome="error") is None

    assert value(registry, "resilience_retries_total", name="api", cause="backoff") == 1.0
    assert value(registry, "resilience_retries_total", name="api", cause="retry_after_clamped") == 1.0
    assert value(registry, "resilience_retries_total", name="api", cause="retry_after") is None
    assert value(registry, "resilience_retry_after_clamped_total", name="api") == 1.0

    assert value(registry, "resilience_local_rejections_total", name="db", reason="budget_exhausted") == 1.0
    assert value(registry, "resilience_local_rejections_total", name="db", reason="breaker_open") == 1.0
    assert value(registry, "resilience_local_rejections_total", name="api", reason="breaker_open") is None

    assert value(registry, "resilience_timeouts_total", name="api", source="client", phase="attempt") == 1.0

    # request 1 took 0.25 + 0.5 + 0.25 + 2.0 + 0.25 = 3.25 s; request 2 took 0.25 s
    assert value(registry, "resilience_request_duration_seconds_count", name="api", result="success") == 1.0
    assert value(registry, "resilience_request_duration_seconds_sum", name="api", result="success") == 3.25
    assert (
        value(registry, "resilience_request_duration_seconds_bucket", name="api", result="success", le="2.5")
        == 0.0
    )
    assert (
        value(registry, "resilience_request_duration_seconds_bucket", name="api", result="success", le="5.0")
        == 1.0
    )
    assert value(registry, "resilience_request_duration_seconds_sum", name="api", result="failure") == 0.25
    assert value(registry, "resilience_request_duration_seconds_count", name="db", result="failure") == 2.0
    assert value(registry, "resilience_request_duration_seconds_sum", name="db", result="failure") == 0.0

    assert value(registry, "resilience_attempt_duration_seconds_count", name="api", outcome="timeout") == 1.0
    assert value(registry, "resilience_attempt_duration_seconds_sum", name="api", outcome="timeout") == 0.25
    assert (
        value(
            registry, "resilience_attempt_duration_seconds_bucket", name="api", outcome="success", le="0.25"
        )
        == 1.0
    )
    assert (
        value(registry, "resilience_attempt_duration_seconds_bucket", name="api", outcome="success", le="0.1")
        == 0.0
    )


def test_retry_after_within_the_maximum_is_not_counted_as_clamped(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    clock = ManualClock()
    p = Pipeline(RetryConfig(max_attempts=2, max_retry_after=5.0), listeners=[exporter], name="api")
    run(p, [busy(5.0), OK], clock)
    assert value(registry, "resilience_retries_total", name="api", cause="retry_after") == 1.0
    assert value(registry, "resilience_retry_after_clamped_total", name="api") is None


def test_deadline_timeouts_are_counted_by_phase(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    clock = ManualClock()
    p = Pipeline(RetryConfig(max_attempts=3, timeout=1.0), listeners=[exporter], name="api")
    run(p, [Outcome.timeout(resilience.core.TimeoutPhase.DEADLINE)], clock, duration=1.0)
    assert value(registry, "resilience_timeouts_total", name="api", source="client", phase="deadline") == 1.0
    assert (
        value(registry, "resilience_requests_total", name="api", result="failure", reason="deadline_exceeded")
        == 1.0
    )


def test_unused_exporter_costs_nothing_on_the_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without listeners or a trace, an execution builds no events at all."""

    def no_events(*args: object) -> TraceEvent:
        raise AssertionError("an event was built with nobody listening")

    monkeypatch.setattr(resilience.execution, "TraceEvent", no_events)
    clock = ManualClock()
    p = Pipeline(RetryConfig(max_attempts=3, backoff=ConstantBackoff(base=0.1)))
    run(p, [TIMEOUT, busy(1.0), OK], clock)
    with pytest.raises(AssertionError, match="nobody listening"):
        run(Pipeline(RetryConfig(), listeners=[lambda s, e: None]), [OK], clock)


# ---------------------------------------------------------------------------
# breakers and budgets


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def states(registry: CollectorRegistry, name: str) -> dict[str, float | None]:
    return {s.value: value(registry, "resilience_breaker_state", name=name, state=s.value) for s in State}


def test_breaker_state_is_one_hot_over_all_states(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    exporter.set_breaker_state("db", State.CLOSED)
    assert states(registry, "db") == {"closed": 1.0, "open": 0.0, "half_open": 0.0}
    exporter.on_breaker_transition("db", State.CLOSED, State.OPEN, 12.0)
    exporter.on_breaker_transition("db", State.OPEN, State.HALF_OPEN, 42.0)
    exporter.on_breaker_transition("db", State.HALF_OPEN, State.OPEN, 43.0)
    assert states(registry, "db") == {"closed": 0.0, "open": 1.0, "half_open": 0.0}
    assert (
        value(
            registry, "resilience_breaker_transitions_total", name="db", from_state="closed", to_state="open"
        )
        == 1
    )
    assert (
        value(
            registry,
            "resilience_breaker_transitions_total",
            name="db",
            from_state="half_open",
            to_state="open",
        )
        == 1.0
    )
    assert (
        value(
            registry, "resilience_breaker_transitions_total", name="db", from_state="open", to_state="closed"
        )
        is None
    )
    assert states(registry, "other") == {"closed": None, "open": None, "half_open": None}


def test_transition_without_a_prior_state_still_exports_every_state(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    exporter.on_breaker_transition("db", State.CLOSED, State.OPEN, 1.0)
    assert states(registry, "db") == {"closed": 0.0, "open": 1.0, "half_open": 0.0}


def test_breaker_state_events_from_a_trace(registry: CollectorRegistry, exporter: PrometheusExporter) -> None:
    exporter.set_breaker_state("db", State.CLOSED)
    exporter("db", TraceEvent(5.0, EventKind.STATE, 0, "closed->open"))
    assert states(registry, "db") == {"closed": 0.0, "open": 1.0, "half_open": 0.0}
    assert (
        value(
            registry, "resilience_breaker_transitions_total", name="db", from_state="closed", to_state="open"
        )
        == 1
    )


def test_budget_tokens_are_read_at_scrape_time(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    tokens = [10.0]
    exporter.watch_budget("api", lambda: tokens[0])
    assert value(registry, "resilience_budget_tokens", name="api") == 10.0
    tokens[0] = 3.5
    assert value(registry, "resilience_budget_tokens", name="api") == 3.5


def test_watched_breaker_is_exported_end_to_end(registry: CollectorRegistry) -> None:
    breaker = CircuitBreaker(
        BreakerConfig(window_size=4, minimum_calls=2, failure_rate_threshold=0.5, wait_in_open=10.0),
        name="db",
    )
    clock = ManualClock()
    exporter = PrometheusExporter(registry, clock=clock)
    exporter.watch_breaker(breaker)
    assert value(registry, "resilience_breaker_state", name="db", state="closed") == 1.0
    assert value(registry, "resilience_breaker_state", name="db", state="open") == 0.0
    p = Pipeline(RetryConfig(max_attempts=1), breaker=breaker, listeners=[exporter], name="db")
    failure = Outcome(OutcomeKind.ERROR, True, "connection_refused")
    run(p, [OK], clock)
    run(p, [failure], clock)  # 1 of 2 failed: the rate reaches the threshold and the breaker opens
    run(p, [], clock)  # refused: the breaker is open
    run(p, [], clock)
    assert value(registry, "resilience_breaker_state", name="db", state="open") == 1.0
    assert value(registry, "resilience_breaker_state", name="db", state="closed") == 0.0
    assert (
        value(
            registry, "resilience_breaker_transitions_total", name="db", from_state="closed", to_state="open"
        )
        == 1
    )
    assert value(registry, "resilience_breaker_failure_rate", name="db") == 0.5
    assert value(registry, "resilience_breaker_slow_call_rate", name="db") == 0.0
    assert value(registry, "resilience_breaker_calls_total", name="db", kind="successful") == 1.0
    assert value(registry, "resilience_breaker_calls_total", name="db", kind="failed") == 1.0
    assert value(registry, "resilience_breaker_calls_total", name="db", kind="not_permitted") == 2.0
    assert value(registry, "resilience_local_rejections_total", name="db", reason="breaker_open") == 2.0


def _trip(breaker: CircuitBreaker, now: float) -> None:
    for _ in range(2):
        permit = breaker.try_acquire(now)
        assert permit is not None
        breaker.record(permit, now, 0.0, Outcome.error("http_500", retryable=True))


def test_watched_breaker_state_is_read_at_scrape_time_on_the_monotonic_clock(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    """Tripped 100 s ago (monotonic time) with a 10 s wait: a scrape now sees half-open, though no
    call came since (the gauge followed transitions and said open until the next call)."""
    import time

    breaker = CircuitBreaker(BreakerConfig(window_size=2, minimum_calls=2, wait_in_open=10.0), name="db")
    exporter.watch_breaker(breaker)
    _trip(breaker, time.monotonic() - 100.0)
    assert value(registry, "resilience_breaker_state", name="db", state="half_open") == 1.0
    assert value(registry, "resilience_breaker_state", name="db", state="open") == 0.0
    assert breaker.state is BreakerState.OPEN  # the scrape only looked


def test_watched_breaker_metrics_follow_the_exporter_clock(registry: CollectorRegistry) -> None:
    clock = ManualClock()
    exporter = PrometheusExporter(registry, clock=clock)
    breaker = CircuitBreaker(
        BreakerConfig(window_size=2, minimum_calls=2, wait_in_open=10.0, permitted_calls_in_half_open=2),
        name="db",
    )
    exporter.watch_breaker(breaker)
    held = breaker.try_acquire(0.0)
    assert held is not None
    _trip(breaker, 0.0)
    clock.advance(9.0)
    assert value(registry, "resilience_breaker_state", name="db", state="open") == 1.0
    assert value(registry, "resilience_breaker_failure_rate", name="db") == 1.0
    clock.advance(1.0)
    assert value(registry, "resilience_breaker_state", name="db", state="half_open") == 1.0
    assert value(registry, "resilience_breaker_failure_rate", name="db") == 0.0  # no probe answered yet
    breaker.record(held, 10.0, 10.0, Outcome.success())  # permitted while closed: late
    assert value(registry, "resilience_breaker_late_outcomes_total", name="db") == 1.0
    assert value(registry, "resilience_breaker_calls_total", name="db", kind="successful") == 1.0
    assert (
        value(
            registry,
            "resilience_breaker_transitions_total",
            name="db",
            from_state="open",
            to_state="half_open",
        )
        == 1.0
    )


def test_exporter_is_a_counter_sink_for_fallbacks(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    """Components that count through a ``CounterSink`` (fallback tiers here) reach the exporter."""
    from resilience.metrics.counters import LabelCounts

    counts = LabelCounts("resilience_fallbacks_total", "tier", "web->api", exporter)
    counts.inc("cache")
    counts.inc("cache")
    counts.inc("static")
    assert value(registry, "resilience_fallbacks_total", name="web->api", tier="cache") == 2.0
    assert value(registry, "resilience_fallbacks_total", name="web->api", tier="static") == 1.0
    with pytest.raises(ValueError, match="takes labels"):
        exporter.inc("resilience_fallbacks_total", {"name": "web->api"})
    with pytest.raises(ValueError, match="not a counter"):
        exporter.inc("resilience_budget_tokens", {"name": "web->api"})


def test_initialise_exports_known_series_at_zero_before_the_first_event(
    registry: CollectorRegistry, exporter: PrometheusExporter
) -> None:
    """So ``rate()`` sees a pipeline's first failure and first timeout (a series born at its first
    event hides that event); the other pipeline, not initialised, is the control."""
    exporter.initialise("payments")
    assert value(registry, "resilience_requests_total", name="payments", result="failure",
                 reason="retries_exhausted") == 0.0  # fmt: skip
    timeouts = {"name": "payments", "source": "client", "phase": "attempt"}
    assert value(registry, "resilience_timeouts_total", **timeouts) == 0.0
    assert value(registry, "resilience_attempts_total", name="payments", outcome="timeout") == 0.0
    hist = "resilience_request_duration_seconds_count"
    assert value(registry, hist, name="payments", result="failure") == 0.0
    assert value(registry, "resilience_requests_total", name="orders", result="failure",
                 reason="retries_exhausted") is None  # fmt: skip
    exporter.inc("resilience_timeouts_total", timeouts)
    assert value(registry, "resilience_timeouts_total", **timeouts) == 1.0
