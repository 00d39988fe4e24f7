"""Timeouts carry the edge they fired on, so a dashboard can split them per edge."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from resilience.core import Attempt, ManualClock, Outcome, Pipeline, RetryConfig, TimeoutPhase, Wait
from resilience.metrics.counters import Counters
from resilience.metrics.prometheus import PrometheusExporter
from resilience.outcome import TimeoutSource
from resilience.timeouts import TimeoutRecorder


def drive(p: Pipeline, outcomes: list[Outcome], clock: ManualClock) -> None:
    ex = p.begin(clock.now())
    step = ex.next(clock.now())
    while isinstance(step, (Attempt, Wait)):
        if isinstance(step, Attempt):
            clock.advance(0.1)
            step = ex.next(clock.now(), outcomes.pop(0))
        else:
            clock.sleep(step.delay)
            step = ex.next(clock.now())


def test_the_exporter_labels_client_timeouts_with_the_pipeline_edge() -> None:
    registry = CollectorRegistry()
    exporter = PrometheusExporter(registry)
    clock = ManualClock()
    api = Pipeline(RetryConfig(max_attempts=2), listeners=[exporter], name="web->api")
    db = Pipeline(RetryConfig(max_attempts=1), listeners=[exporter], name="web->db")
    drive(api, [Outcome.timeout(), Outcome.timeout()], clock)
    drive(db, [Outcome.timeout(TimeoutPhase.DEADLINE)], clock)

    def timeouts(name: str, phase: str) -> float | None:
        labels = {"name": name, "source": "client", "phase": phase}
        return registry.get_sample_value("resilience_timeouts_total", labels)

    assert timeouts("web->api", "attempt") == 2.0
    assert timeouts("web->db", "deadline") == 1.0
    assert timeouts("web->db", "attempt") is None


def test_the_recorder_counts_under_its_edge_name() -> None:
    counters = Counters()
    TimeoutRecorder(ManualClock(), counters=counters, name="gw->api").fire(
        TimeoutSource.GATEWAY, TimeoutPhase.READ
    )
    assert counters.value("resilience_timeouts_total", name="gw->api", source="gateway", phase="read") == 1
    assert counters.value("resilience_timeouts_total", name="default", source="gateway", phase="read") == 0
