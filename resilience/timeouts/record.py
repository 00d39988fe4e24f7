"""The timeout-source record: which component gave up, when, where, and why."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import WallClock
from ..metrics.counters import CounterSink
from ..outcome import TimeoutPhase, TimeoutSource

__all__ = ["ListSink", "RecordSink", "TimeoutRecord", "TimeoutRecorder"]

TIMEOUTS_TOTAL = "resilience_timeouts_total"


@dataclass(frozen=True, slots=True)
class TimeoutRecord:
    """One fired timeout: the root-cause triple (time, trace/span, source) plus context.

    ``explicit`` is the ``timeout.enforced`` attribute: True when the bound was
    configured for this call (an explicit deadline, a tag threshold, a set
    phase value), False when it fell back to a default. ``timeout`` is the
    configured bound in seconds, when known.
    """

    at: float  # wall-clock seconds since the Unix epoch
    trace_id: str
    span: str
    source: TimeoutSource
    phase: TimeoutPhase
    explicit: bool
    timeout: float | None = None

    @property
    def at_unix_ms(self) -> int:
        return int(self.at * 1000)

    def to_dict(self) -> dict[str, Any]:
        """Flat attributes for a log line or span event."""
        return {
            "timeout_at_unix_ms": self.at_unix_ms,
            "trace_id": self.trace_id,
            "span_id": self.span,
            "timeout_source": self.source.value,
            "timeout_phase": self.phase.value,
            "timeout_enforced": self.explicit,
            "timeout_ms": None if self.timeout is None else round(self.timeout * 1000),
        }


class RecordSink(Protocol):
    """Receives every timeout record (a logger, a span exporter, a list)."""

    def __call__(self, record: TimeoutRecord) -> None: ...


class ListSink:
    """Keeps records in memory, thread-safe; for tests and small tools."""

    __slots__ = ("_lock", "_records")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[TimeoutRecord] = []

    def __call__(self, record: TimeoutRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[TimeoutRecord]:
        with self._lock:
            return list(self._records)


class TimeoutRecorder:
    """Builds a record when a timeout fires, counts it, and hands it to the sink.

    Counted as ``resilience_timeouts_total{name, source, phase}``, ``name``
    being the edge (caller->target) the recorder watches, the same label the
    pipeline's metrics carry. Time comes from the injected wall clock only.
    """

    __slots__ = ("counters", "name", "sink", "wall")

    def __init__(
        self,
        wall: WallClock,
        sink: RecordSink | None = None,
        counters: CounterSink | None = None,
        *,
        name: str = "default",
    ) -> None:
        self.wall = wall
        self.sink = sink
        self.counters = counters
        self.name = name

    def fire(
        self,
        source: TimeoutSource,
        phase: TimeoutPhase,
        *,
        trace_id: str = "",
        span: str = "",
        explicit: bool = True,
        timeout: float | None = None,
    ) -> TimeoutRecord:
        """Record that ``source`` gave up in ``phase``; returns the record."""
        record = TimeoutRecord(self.wall.wall(), trace_id, span, source, phase, explicit, timeout)
        if self.counters is not None:
            self.counters.inc(
                TIMEOUTS_TOTAL, {"name": self.name, "source": source.value, "phase": phase.value}
            )
        if self.sink is not None:
            self.sink(record)
        return record
