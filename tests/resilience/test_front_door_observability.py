"""Hooks users already run: ``logging`` records (caplog) and OpenTelemetry span events (in-memory)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import resilience
from resilience.core import BreakerConfig, BreakerRegistry, ManualClock
from resilience.instrumentation import RetryDetails


def flaky(failures: int) -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def fetch_user() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise ConnectionResetError(f"reset {len(calls)}")
        return "user"

    return fetch_user, calls


def test_one_log_record_per_retry_and_per_give_up_with_structured_extra(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fn, _ = flaky(10)
    wrapped = resilience.retry(on=ConnectionError, attempts=3, wait=0.25, clock=ManualClock())(fn)
    with caplog.at_level(logging.INFO, logger="resilience"), pytest.raises(ConnectionResetError) as caught:
        wrapped()
    records = [r for r in caplog.records if r.name == "resilience"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO, logging.WARNING]
    retries, give_up = records[:2], records[2]
    assert [r.resilience_attempt for r in retries] == [1, 2]  # type: ignore[attr-defined]
    assert [r.resilience_delay for r in retries] == [0.25, 0.25]  # type: ignore[attr-defined]
    assert all(r.resilience_name.endswith("fetch_user") for r in records)  # type: ignore[attr-defined]
    assert isinstance(retries[0].resilience_cause, ConnectionResetError)  # type: ignore[attr-defined]
    assert give_up.resilience_cause is caught.value  # type: ignore[attr-defined]
    assert give_up.resilience_reason == "retries_exhausted"  # type: ignore[attr-defined]


def test_nothing_is_logged_on_the_success_path(caplog: pytest.LogCaptureFixture) -> None:
    fn, _ = flaky(0)
    with caplog.at_level(logging.DEBUG, logger="resilience"):
        assert resilience.retry(on=ConnectionError)(fn)() == "user"
    assert [r for r in caplog.records if r.name == "resilience"] == []
    fn, _ = flaky(1)  # negative control: one retry, one record
    with caplog.at_level(logging.DEBUG, logger="resilience"):
        resilience.retry(on=ConnectionError, wait=0.0)(fn)()
    assert len([r for r in caplog.records if r.name == "resilience"]) == 1


def test_one_log_record_per_breaker_transition(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    with resilience.testing.testing_mode(clock=clock), caplog.at_level(logging.INFO, logger="resilience"):
        db = resilience.breaker("logged-db")
        for _ in range(100):  # the default breaker's minimum calls, all failing
            with pytest.raises(OSError), db.guard():
                raise OSError
    moves = [r for r in caplog.records if getattr(r, "resilience_breaker", None) == "logged-db"]
    assert [(r.resilience_from, r.resilience_to) for r in moves] == [("closed", "open")]  # type: ignore[attr-defined]
    assert moves[0].levelno == logging.WARNING


def test_a_registry_of_ones_own_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Negative control: the transition records come from the default registry's listener."""
    clock = ManualClock()
    registry = BreakerRegistry(BreakerConfig(window_size=2, minimum_calls=2), idle_ttl=60)
    db = resilience.breaker("quiet", registry=registry, clock=clock)
    with caplog.at_level(logging.INFO, logger="resilience"):
        for _ in range(2):
            with pytest.raises(OSError), db.guard():
                raise OSError
    assert db.state is resilience.BreakerState.OPEN
    assert [r for r in caplog.records if getattr(r, "resilience_breaker", None)] == []


def test_opentelemetry_span_events_per_retry_and_give_up() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    fn, _ = flaky(10)
    wrapped = resilience.retry(on=ConnectionError, attempts=3, wait=0.5, clock=ManualClock())(fn)
    with tracer.start_as_current_span("request"), pytest.raises(ConnectionResetError):
        wrapped()
    (span,) = exporter.get_finished_spans()
    names = [e.name for e in span.events]
    assert names == ["resilience.retry", "resilience.retry", "resilience.give_up"]
    first, last = span.events[0].attributes, span.events[-1].attributes
    assert first is not None and last is not None
    assert first["resilience.attempt"] == 1 and first["resilience.delay"] == 0.5
    assert first["resilience.cause"] == "ConnectionResetError"
    assert str(first["resilience.name"]).endswith("fetch_user")
    assert last["resilience.attempt"] == 3 and last["resilience.reason"] == "retries_exhausted"


def test_set_hooks_replaces_the_defaults_and_none_restores_them() -> None:
    seen: list[RetryDetails] = []
    resilience.instrumentation.set_hooks([seen.append])
    try:
        fn, _ = flaky(1)
        resilience.retry(on=ConnectionError, wait=0.0)(fn)()
    finally:
        resilience.instrumentation.set_hooks(None)
    assert [(d.attempt, d.gave_up, type(d.cause)) for d in seen] == [(1, False, ConnectionResetError)]
    assert resilience.instrumentation.log_retry in resilience.instrumentation.current_hooks()
