"""An optional prometheus_client exporter for the metric catalog.

``PrometheusExporter(registry)`` registers every family in ``CATALOG`` on a
``CollectorRegistry`` and turns decision events into samples:

* as a pipeline listener (``Pipeline(listeners=[exporter])``) it counts
  requests, attempts, retries, clamped Retry-After hints, local rejections and
  client timeouts, and observes request and attempt durations;
* as a breaker listener it counts transitions and keeps the one-hot state
  gauge (``on_breaker_transition`` has the state-listener signature
  ``(name, from_state, to_state, now)``; ``STATE`` trace events work too; use
  one of the two per breaker, not both);
* ``watch_breaker`` and ``watch_budget`` read a breaker's window rates and
  call counts, and a budget's tokens, when Prometheus scrapes.

prometheus_client is imported only when an exporter is built; the library's
decision objects never see it, and a pipeline without listeners emits no
events at all.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..events import EventKind, TraceEvent
from .catalog import CATALOG, MetricSpec, MetricType

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

__all__ = ["PrometheusExporter"]

EXTRA = "resilience-workbench[prometheus]"

_BREAKER_CALLS = "resilience_breaker_calls_total"


def _client() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise ImportError(
            f"resilience.metrics.prometheus needs prometheus_client; install it with: pip install '{EXTRA}'"
        ) from exc
    return prometheus_client


def _state_name(state: object) -> str:
    return str(state.value) if isinstance(state, enum.Enum) else str(state)


def _members(state: object) -> list[object]:
    return list(type(state)) if isinstance(state, enum.Enum) else []


class _BreakerCalls:
    """A collector for ``resilience_breaker_calls_total``, read from watched breakers at scrape time."""

    def __init__(self, spec: MetricSpec, family_type: Any) -> None:
        self._spec = spec
        self._family_type = family_type
        self._lock = threading.Lock()
        self._sources: dict[str, Callable[[], dict[str, int]]] = {}

    def add(self, name: str, counts: Callable[[], dict[str, int]]) -> None:
        with self._lock:
            self._sources[name] = counts

    def _family(self) -> Metric:
        spec = self._spec
        family: Metric = self._family_type(spec.name, spec.help, labels=spec.labels)
        return family

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        with self._lock:
            sources = sorted(self._sources.items())
        for name, counts in sources:
            for kind, value in sorted(counts().items()):
                family.add_metric([name, kind], value)  # type: ignore[attr-defined]
        yield family


class PrometheusExporter:
    """Registers the catalog on a registry and feeds it from decision events.

    Instances are listeners: ``exporter(source, event)``. One exporter per
    registry (registering the catalog twice is an error in prometheus_client).
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, specs: Iterable[MetricSpec] = ()
    ) -> None:
        client = _client()
        self.registry: CollectorRegistry = registry if registry is not None else client.REGISTRY
        self._metrics: dict[str, Any] = {}
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()
        self._states: dict[str, set[str]] = {}
        self._breaker_calls: _BreakerCalls | None = None
        for spec in (*CATALOG.values(), *specs):
            if spec.name == _BREAKER_CALLS:
                core = client.metrics_core
                self._breaker_calls = _BreakerCalls(spec, core.CounterMetricFamily)
                self.registry.register(self._breaker_calls)
                continue
            self._metrics[spec.name] = self._build(client, spec)

    def _build(self, client: Any, spec: MetricSpec) -> Any:
        kwargs: dict[str, Any] = {"registry": self.registry}
        if spec.type is MetricType.COUNTER:
            cls = client.Counter
        elif spec.type is MetricType.GAUGE:
            cls = client.Gauge
        else:
            cls = client.Histogram
            kwargs["buckets"] = spec.buckets
        return cls(spec.name, spec.help, spec.labels, **kwargs)

    # -- access -------------------------------------------------------------
    def metric(self, name: str) -> Any:
        """The prometheus_client object of a catalog family (e.g. to count fallbacks)."""
        try:
            return self._metrics[name]
        except KeyError:
            raise KeyError(f"metric {name!r} is not exported as an object here") from None

    def _child(self, name: str, *labels: str) -> Any:
        key = (name, labels)
        child = self._children.get(key)
        if child is None:
            with self._lock:
                child = self._children.get(key)
                if child is None:
                    child = self._metrics[name].labels(*labels)
                    self._children[key] = child
        return child

    # -- the Listener protocol ----------------------------------------------
    def __call__(self, source: str, event: TraceEvent) -> None:
        """Turn one decision event of pipeline (or breaker) ``source`` into samples."""
        kind = event.kind
        if kind is EventKind.OUTCOME:
            self._child("resilience_attempts_total", source, event.label).inc()
            self._child("resilience_attempt_duration_seconds", source, event.label).observe(event.value)
            if event.evidence.startswith("timeout_"):
                phase = event.evidence[len("timeout_") :]
                self._child("resilience_timeouts_total", "client", phase).inc()
        elif kind is EventKind.WAIT:
            self._child("resilience_retries_total", source, event.label).inc()
            if event.label == "retry_after_clamped":
                self._child("resilience_retry_after_clamped_total", source).inc()
        elif kind is EventKind.SUCCESS:
            self._child("resilience_requests_total", source, "success", "").inc()
            self._child("resilience_request_duration_seconds", source, "success").observe(event.value)
        elif kind is EventKind.GIVE_UP:
            self._child("resilience_requests_total", source, "failure", event.label).inc()
            self._child("resilience_request_duration_seconds", source, "failure").observe(event.value)
        elif kind is EventKind.REJECTED:
            self._child("resilience_local_rejections_total", source, event.label).inc()
        elif kind is EventKind.STATE:
            old, _, new = event.label.partition("->")
            self._transition(source, old, new)

    # -- breakers -----------------------------------------------------------
    def set_breaker_state(self, name: str, state: object, states: Iterable[object] | None = None) -> None:
        """Set the one-hot state gauge: 1 for ``state``, 0 for every other state.

        States are enums (their ``value`` is the label) or strings; ``states``
        defaults to every member of ``state``'s enum plus the states already
        exported for this breaker.
        """
        current = _state_name(state)
        names = {current, *(_state_name(s) for s in (states if states is not None else _members(state)))}
        with self._lock:
            names |= self._states.setdefault(name, set())
            self._states[name] = names
        for s in sorted(names):
            self._child("resilience_breaker_state", name, s).set(1.0 if s == current else 0.0)

    def on_breaker_transition(self, name: str, from_state: object, to_state: object, now: float) -> None:
        """A breaker state listener: counts the transition and moves the one-hot gauge."""
        self._transition(name, from_state, to_state)

    def _transition(self, name: str, old: object, new: object) -> None:
        self._child("resilience_breaker_transitions_total", name, _state_name(old), _state_name(new)).inc()
        self.set_breaker_state(name, new, [old, *_members(new)])

    def watch_breaker(self, breaker: Any) -> None:
        """Export a breaker: its state now and on every transition, its window rates and call counts.

        ``breaker`` needs ``name``, ``state`` and ``metrics()`` (a snapshot with
        ``failure_rate``, ``slow_call_rate`` and ``calls_by_kind()``), and
        ``add_state_listener`` to follow transitions.
        """
        name: str = breaker.name
        self.set_breaker_state(name, breaker.state)
        add = getattr(breaker, "add_state_listener", None)
        if add is not None:
            add(self.on_breaker_transition)
        self._child("resilience_breaker_failure_rate", name).set_function(
            lambda: breaker.metrics().failure_rate
        )
        self._child("resilience_breaker_slow_call_rate", name).set_function(
            lambda: breaker.metrics().slow_call_rate
        )
        if self._breaker_calls is not None:
            self._breaker_calls.add(name, lambda: dict(breaker.metrics().calls_by_kind()))

    # -- budgets ------------------------------------------------------------
    def watch_budget(self, name: str, tokens: Callable[[], float]) -> None:
        """A callable gauge: ``resilience_budget_tokens{name}`` reads ``tokens()`` at scrape time.

        For a budget whose ``available`` takes the time, pass
        ``lambda: budget.available(clock.now())``.
        """
        self._child("resilience_budget_tokens", name).set_function(tokens)
