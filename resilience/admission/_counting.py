"""Per-label counts of one catalog counter, forwarded to an optional sink."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from ..metrics.catalog import MetricType, metric

__all__ = ["LabelCounts", "Sink"]


class Sink(Protocol):
    """Anything that adds to a catalog counter (an exporter, an in-process counter set)."""

    def inc(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None: ...


class LabelCounts:
    """Counts of the catalog counter ``metric_name`` by its one free label, for component ``name``."""

    __slots__ = ("_counts", "_lock", "label", "metric_name", "name", "sink")

    def __init__(self, metric_name: str, label: str, name: str, sink: Sink | None = None) -> None:
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
