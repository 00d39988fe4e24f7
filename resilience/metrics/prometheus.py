"""An optional prometheus_client exporter for the metric catalog.

``PrometheusExporter(registry)`` registers every family in ``CATALOG`` on a
``CollectorRegistry`` and turns decision events into samples:

* as a pipeline listener (``Pipeline(listeners=[exporter])``) it counts
  requests, attempts, retries, clamped Retry-After hints, local rejections and
  client timeouts, and observes request and attempt durations;
* as a breaker listener it counts transitions and keeps the one-hot state
  gauge (``on_breaker_transition`` has the state-listener signature
  ``(name, from_state, to_state, at)``; ``STATE`` trace events work too; use
  one of the two per breaker, not both);
* ``watch_breaker`` reads a breaker when Prometheus scrapes: its state as of
  the exporter's clock (``metrics(clock.now())``: an open wait that ended
  shows half-open even if no call came since), window rates, call counts and
  late outcomes, all from one snapshot; its transitions are counted as its
  state listener sees them (``BreakerRegistry.tick`` emits due ones);
* ``watch_budget`` reads a budget's tokens when Prometheus scrapes.

prometheus_client is imported only when an exporter is built; the library's
decision objects never see it, and a pipeline without listeners emits no
events at all.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..clock import Clock, MonotonicClock
from ..events import EventKind, TraceEvent
from .catalog import CATALOG, MetricSpec, MetricType

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

__all__ = ["PrometheusExporter"]

EXTRA = "resilience-workbench[prometheus]"

_BREAKER_STATE = "resilience_breaker_state"
_BREAKER_FAILURE_RATE = "resilience_breaker_failure_rate"
_BREAKER_SLOW_RATE = "resilience_breaker_slow_call_rate"
_BREAKER_CALLS = "resilience_breaker_calls_total"
_BREAKER_LATE = "resilience_breaker_late_outcomes_total"
_SCRAPED = (_BREAKER_STATE, _BREAKER_FAILURE_RATE, _BREAKER_SLOW_RATE, _BREAKER_CALLS, _BREAKER_LATE)


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


class _Breakers:
    """One collector for the breaker families read at scrape time.

    Watched breakers are read once per scrape (``metrics(clock.now())``: one
    consistent snapshot for state, rates, call counts and late outcomes).
    Breakers known only through transitions (``set_breaker_state``) export
    their one-hot state.
    """

    def __init__(self, specs: dict[str, MetricSpec], core: Any, clock: Clock) -> None:
        self._specs = specs
        self._core = core
        self._clock = clock
        self._lock = threading.Lock()
        self._watched: dict[str, Any] = {}
        self._states: dict[str, tuple[str, set[str]]] = {}

    def watch(self, name: str, breaker: Any) -> None:
        with self._lock:
            self._watched[name] = breaker

    def set_state(self, name: str, current: str, names: set[str]) -> None:
        with self._lock:
            _, known = self._states.get(name, ("", set()))
            self._states[name] = (current, known | names)

    def _families(self) -> dict[str, Metric]:
        out: dict[str, Metric] = {}
        for name, spec in self._specs.items():
            if spec.type is MetricType.COUNTER:
                family: Metric = self._core.CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
            else:
                family = self._core.GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
            out[name] = family
        return out

    def describe(self) -> list[Metric]:
        return list(self._families().values())

    def collect(self) -> Iterator[Metric]:
        f: Any = self._families()
        with self._lock:
            watched = sorted(self._watched.items())
            states = sorted(self._states.items())
        now = self._clock.now() if watched else 0.0
        seen = set()
        for name, breaker in watched:
            m = breaker.metrics(now)
            seen.add(name)
            current = _state_name(m.state)
            for s in sorted({current, *(_state_name(x) for x in _members(m.state))}):
                f[_BREAKER_STATE].add_metric([name, s], 1.0 if s == current else 0.0)
            f[_BREAKER_FAILURE_RATE].add_metric([name], m.failure_rate)
            f[_BREAKER_SLOW_RATE].add_metric([name], m.slow_call_rate)
            for kind, v in sorted(m.calls_by_kind().items()):
                f[_BREAKER_CALLS].add_metric([name, kind], v)
            f[_BREAKER_LATE].add_metric([name], getattr(m, "late", 0))
        for name, (current, names) in states:
            if name not in seen:
                for s in sorted(names):
                    f[_BREAKER_STATE].add_metric([name, s], 1.0 if s == current else 0.0)
        yield from f.values()


class PrometheusExporter:
    """Registers the catalog on a registry and feeds it from decision events.

    Instances are listeners: ``exporter(source, event)``. One exporter per
    registry (registering the catalog twice is an error in prometheus_client).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        specs: Iterable[MetricSpec] = (),
        clock: Clock | None = None,
    ) -> None:
        client = _client()
        self.registry: CollectorRegistry = registry if registry is not None else client.REGISTRY
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._metrics: dict[str, Any] = {}
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()
        scraped: dict[str, MetricSpec] = {}
        for spec in (*CATALOG.values(), *specs):
            if spec.name in _SCRAPED:
                scraped[spec.name] = spec
                continue
            self._metrics[spec.name] = self._build(client, spec)
        self._breakers = _Breakers(scraped, client.metrics_core, self.clock)
        self.registry.register(self._breakers)

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

    # -- known label sets ---------------------------------------------------
    def initialise(self, name: str) -> None:
        """Export pipeline ``name``'s request, attempt and timeout series at zero before any event.

        A series that first appears at its first event hides that event from ``rate()`` and
        ``increase()`` (Prometheus takes a series' first sample as its start); call this once per
        pipeline at start-up so the first failure, timeout or retry is seen.
        """
        from ..outcome import FailureReason, OutcomeKind, TimeoutPhase

        kinds = [k.value for k in OutcomeKind]
        for labels in [("success", ""), *(("failure", r.value) for r in FailureReason)]:
            self._child("resilience_requests_total", name, *labels)
        for result in ("success", "failure"):
            self._child("resilience_request_duration_seconds", name, result)
        for kind in kinds:
            self._child("resilience_attempts_total", name, kind)
            self._child("resilience_attempt_duration_seconds", name, kind)
        for phase in TimeoutPhase:
            self._child("resilience_timeouts_total", name, "client", phase.value)

    # -- the CounterSink protocol -------------------------------------------
    def inc(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add ``amount`` to the catalog counter ``name{labels}`` (fallbacks, timeouts, idempotency)."""
        spec = CATALOG.get(name)
        if spec is None or spec.type is not MetricType.COUNTER or name in _SCRAPED:
            raise ValueError(f"metric {name!r} is not a counter this exporter owns")
        if set(labels) != set(spec.labels):
            raise ValueError(f"metric {name!r} takes labels {list(spec.labels)}, got {sorted(labels)}")
        self._child(name, *(labels[k] for k in spec.labels)).inc(amount)

    # -- the Listener protocol ----------------------------------------------
    def __call__(self, source: str, event: TraceEvent) -> None:
        """Turn one decision event of pipeline (or breaker) ``source`` into samples."""
        kind = event.kind
        if kind is EventKind.OUTCOME:
            self._child("resilience_attempts_total", source, event.label).inc()
            self._child("resilience_attempt_duration_seconds", source, event.label).observe(event.value)
            if event.evidence.startswith("timeout_"):
                phase = event.evidence[len("timeout_") :]
                self._child("resilience_timeouts_total", source, "client", phase).inc()
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
        self._breakers.set_state(name, current, names)

    def on_breaker_transition(self, name: str, from_state: object, to_state: object, now: float) -> None:
        """A breaker state listener: counts the transition and moves the one-hot gauge."""
        self._transition(name, from_state, to_state)

    def _transition(self, name: str, old: object, new: object) -> None:
        self._child("resilience_breaker_transitions_total", name, _state_name(old), _state_name(new)).inc()
        self.set_breaker_state(name, new, [old, *_members(new)])

    def watch_breaker(self, breaker: Any) -> None:
        """Export a breaker, read at scrape time as of ``clock.now()``, and count its transitions.

        ``breaker`` needs ``name`` and ``metrics(now)`` (a snapshot with
        ``state``, ``failure_rate``, ``slow_call_rate``, ``calls_by_kind()`` and
        optionally ``late``), and ``add_state_listener`` to count transitions.
        """
        name: str = breaker.name
        self._breakers.watch(name, breaker)
        add = getattr(breaker, "add_state_listener", None)
        if add is not None:
            add(self.on_breaker_transition)

    # -- budgets ------------------------------------------------------------
    def watch_budget(self, name: str, tokens: Callable[[], float]) -> None:
        """A callable gauge: ``resilience_budget_tokens{name}`` reads ``tokens()`` at scrape time.

        For a budget whose ``available`` takes the time, pass
        ``lambda: budget.available(clock.now())``.
        """
        self._child("resilience_budget_tokens", name).set_function(tokens)
