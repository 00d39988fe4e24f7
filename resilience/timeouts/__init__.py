"""Timeouts: layered connection phases, deadline propagation, timeout records, per-tag thresholds."""

from ..metrics.counters import Counters, CounterSink
from .layered import LayeredTimeouts
from .propagation import HeaderError, Incoming, PropagationConfig, incoming, outgoing_headers
from .record import ListSink, RecordSink, TimeoutRecord, TimeoutRecorder
from .streams import (
    ClientConnection,
    HeadTooLarge,
    PhaseTimeout,
    ServerConnection,
    bounded,
    open_connection,
    write_all,
)
from .tags import Resolved, TagTimeouts, TimeoutRegistry, qualified_name, timeout_tag

__all__ = [
    "ClientConnection",
    "CounterSink",
    "Counters",
    "HeadTooLarge",
    "HeaderError",
    "Incoming",
    "LayeredTimeouts",
    "ListSink",
    "PhaseTimeout",
    "PropagationConfig",
    "RecordSink",
    "Resolved",
    "ServerConnection",
    "TagTimeouts",
    "TimeoutRecord",
    "TimeoutRecorder",
    "TimeoutRegistry",
    "bounded",
    "incoming",
    "open_connection",
    "outgoing_headers",
    "qualified_name",
    "timeout_tag",
    "write_all",
]
