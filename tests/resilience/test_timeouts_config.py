"""LayeredTimeouts rules, the timeout-source record and the in-process counters."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from resilience._config import ConfigError
from resilience.clock import ManualClock
from resilience.outcome import TimeoutPhase, TimeoutSource
from resilience.timeouts import Counters, LayeredTimeouts, ListSink, TimeoutRecord, TimeoutRecorder

FIELDS = ("connect", "read_header", "read", "write", "idle")


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("bad", [0, -1.0, float("inf")])
def test_every_bound_must_be_positive(name: str, bad: float) -> None:
    with pytest.raises(ConfigError) as info:
        LayeredTimeouts(**{name: bad})
    assert str(info.value) == f"LayeredTimeouts.{name}={float(bad)!r}: must be > 0 and finite"


@pytest.mark.parametrize("name", FIELDS)
def test_every_bound_must_be_a_number(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        LayeredTimeouts(**{name: "3"})  # type: ignore[arg-type]
    rule = "must be null or a number" if name == "idle" else "must be a number"
    assert str(info.value) == f"LayeredTimeouts.{name}='3': {rule}"


def test_read_header_must_not_exceed_read() -> None:
    with pytest.raises(ConfigError) as info:
        LayeredTimeouts(read_header=5, read=4)
    assert str(info.value) == "LayeredTimeouts.read_header=5.0: must be <= read (4.0)"
    assert LayeredTimeouts(read_header=4, read=4).read_header == 4.0


def test_idle_defaults_to_read_and_is_then_not_explicit() -> None:
    t = LayeredTimeouts(read=7)
    assert t.idle is None and t.idle_timeout == 7.0 and t.timeout(TimeoutPhase.IDLE) == 7.0
    assert not t.explicit(TimeoutPhase.IDLE) and t.explicit(TimeoutPhase.READ)
    assert LayeredTimeouts(idle=2).explicit(TimeoutPhase.IDLE)


def test_idle_may_exceed_read() -> None:
    t = LayeredTimeouts(read_header=3, read=15, idle=60)
    assert t.idle_timeout == 60.0


def test_phase_lookup_and_unknown_phase() -> None:
    t = LayeredTimeouts(connect=1, read_header=2, read=3, write=4, idle=5)
    got = [t.timeout(p) for p in (TimeoutPhase.CONNECT, TimeoutPhase.READ_HEADER, TimeoutPhase.READ,
                                  TimeoutPhase.WRITE, TimeoutPhase.IDLE)]  # fmt: skip
    assert got == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="LayeredTimeouts has no bound for phase 'attempt'"):
        t.timeout(TimeoutPhase.ATTEMPT)


def test_round_trip() -> None:
    for t in (LayeredTimeouts(), LayeredTimeouts(connect=0.5, read_header=1, read=2, write=3, idle=90)):
        assert LayeredTimeouts.from_dict(t.to_dict()) == t
    assert LayeredTimeouts().to_dict() == {"connect": 5.0, "read_header": 3.0, "read": 15.0, "write": 10.0,
                                           "idle": None}  # fmt: skip
    with pytest.raises(ConfigError, match=r"LayeredTimeouts.keepalive=1: unknown field"):
        LayeredTimeouts.from_dict({"keepalive": 1})


def test_recorder_builds_counts_and_sinks_a_record() -> None:
    clock, sink, counters = ManualClock(2.5, epoch=1_700_000_000.0), ListSink(), Counters()
    rec = TimeoutRecorder(clock, sink, counters, name="web->api")
    got = rec.fire(TimeoutSource.GATEWAY, TimeoutPhase.DEADLINE, trace_id="t1", span="s1", explicit=False,
                   timeout=0.85)  # fmt: skip
    assert got == TimeoutRecord(
        1_700_000_002.5, "t1", "s1", TimeoutSource.GATEWAY, TimeoutPhase.DEADLINE, False, 0.85
    )
    assert sink.records == [got]
    assert got.to_dict() == {
        "timeout_at_unix_ms": 1_700_000_002_500,
        "trace_id": "t1",
        "span_id": "s1",
        "timeout_source": "gateway",
        "timeout_phase": "deadline",
        "timeout_enforced": False,
        "timeout_ms": 850,
    }
    assert (
        counters.value("resilience_timeouts_total", name="web->api", source="gateway", phase="deadline") == 1
    )
    assert (
        counters.value("resilience_timeouts_total", name="web->api", source="backend", phase="deadline") == 0
    )
    rec.fire(TimeoutSource.GATEWAY, TimeoutPhase.DEADLINE)
    assert (
        counters.value("resilience_timeouts_total", name="web->api", source="gateway", phase="deadline") == 2
    )
    assert TimeoutRecorder(clock).fire(TimeoutSource.CLIENT, TimeoutPhase.READ).timeout is None


def test_counters_check_the_catalog() -> None:
    c = Counters()
    with pytest.raises(KeyError, match="metric 'nope_total' is not in the catalog"):
        c.inc("nope_total", {})
    with pytest.raises(ValueError, match="metric 'resilience_in_flight' is a gauge, not a counter"):
        c.inc("resilience_in_flight", {"name": "x"})
    with pytest.raises(ValueError, match=r"takes labels \['name', 'source', 'phase'\], got \['source'\]"):
        c.inc("resilience_timeouts_total", {"source": "client"})
    with pytest.raises(ValueError, match="increment -1: must be >= 0"):
        c.inc("resilience_deadline_clamped_total", {"source": "client"}, -1)
    c.inc("resilience_deadline_clamped_total", {"source": "client"}, 2)
    assert c.samples() == {("resilience_deadline_clamped_total", (("source", "client"),)): 2.0}
    assert c.total("resilience_deadline_clamped_total") == 2.0


class NoLock:
    """A lock that does nothing: the negative control for the thread-safety tests."""

    def acquire(self, *a: Any) -> bool:
        return True

    def release(self) -> None:
        pass

    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        pass


def hammer(counters: Counters, threads: int = 8, per_thread: int = 20_000) -> float:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        start = threading.Barrier(threads)

        def work() -> None:
            start.wait()
            for _ in range(per_thread):
                counters.inc("resilience_deadline_clamped_total", {"source": "backend"})

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return counters.value("resilience_deadline_clamped_total", source="backend")


def test_counters_lose_no_increment_under_threads() -> None:
    assert hammer(Counters()) == 8 * 20_000


def test_negative_control_counters_without_the_lock_lose_increments() -> None:
    lost = False
    for _ in range(5):
        c = Counters()
        c._lock = NoLock()  # type: ignore[assignment]
        if hammer(c) < 8 * 20_000:
            lost = True
            break
    assert lost, "without the lock some increments should be lost"


def test_list_sink_is_a_copy() -> None:
    sink = ListSink()
    sink(TimeoutRecord(0.0, "", "", TimeoutSource.CLIENT, TimeoutPhase.READ, True))
    sink.records.clear()
    assert len(sink.records) == 1
