"""In-process counters for catalog metrics: a sink protocol, a counter set, per-label counts."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from ..metrics.catalog import MetricType, metric

__all__ = ["CounterSink", "Counters", "LabelCounts"]

LabelKey = tuple[tuple[str, str], ...]


class CounterSink(Protocol):
    """Anything that can add to a catalog counter (the prometheus exporter, :class:`Counters`)."""

    def inc(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None: ...


class Counters:
    """Thread-safe counters for catalog metrics, without prometheus_client.

    ``inc`` checks the name against the metric catalog (it must be a counter)
    and the label names against the catalog entry, so a typo fails loudly.
    """

    __slots__ = ("_lock", "_values")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, LabelKey], float] = {}

    def inc(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0) to the series ``name{labels}``."""
        spec = metric(name)
        if spec.type is not MetricType.COUNTER:
            raise ValueError(f"metric {name!r} is a {spec.type.value}, not a counter")
        if set(labels) != set(spec.labels):
            raise ValueError(f"metric {name!r} takes labels {list(spec.labels)}, got {sorted(labels)}")
        if not amount >= 0:
            raise ValueError(f"counter {name!r} increment {amount!r}: must be >= 0")
        key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
        with self._lock:
            current = self._values.get(key, 0.0)
            self._values[key] = current + amount

    def value(self, name: str, /, **labels: str) -> float:
        """The value of ``name{labels}`` (0 if never incremented); a ``name`` label goes in ``labels``."""
        key = (name, tuple(sorted(labels.items())))
        return self._values.get(key, 0.0)

    def total(self, name: str) -> float:
        """The sum over every series of ``name``."""
        with self._lock:
            return sum(v for (n, _), v in self._values.items() if n == name)

    def samples(self) -> dict[tuple[str, LabelKey], float]:
        """A copy of every series: ``{(name, ((label, value), ...)): value}``."""
        with self._lock:
            return dict(self._values)


class LabelCounts:
    """Counts of the catalog counter ``metric_name`` by its one free label, for component ``name``."""

    __slots__ = ("_counts", "_lock", "label", "metric_name", "name", "sink")

    def __init__(self, metric_name: str, label: str, name: str, sink: CounterSink | None = None) -> None:
        spec = metric(metric_name)
        if spec.type is not MetricType.COUNTER or set(spec.labels) != {"name", label}:
            raise ValueError(f"metric {metric_name!r} is not a counter labelled (name, {label})")
        self.metric_name = metric_name
        self.label = label
        self.name = name
        self.sink = sink
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def inc(self, value: str) -> None:
        """Count one event labelled ``value``."""
        with self._lock:
            self._counts[value] = self._counts.get(value, 0) + 1
        if self.sink is not None:
            self.sink.inc(self.metric_name, {"name": self.name, self.label: value})

    def __getitem__(self, value: str) -> int:
        return self._counts.get(value, 0)

    def snapshot(self) -> dict[str, int]:
        """A copy of every count so far."""
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())
