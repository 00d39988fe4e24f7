"""Deadline propagation across hops as HTTP headers, in milliseconds.

Wire form (header names are configurable, these are the defaults)::

    X-Request-Deadline-Ms: 340        remaining budget when the request left, integer ms >= 0
    X-Trace-Id: 4bf92f3577b34da6      trace id, 1-128 of [A-Za-z0-9._:-]
    X-Timeout-Chain: 450,340          budget of every hop when it left, oldest first

Rules:

- A sender writes ``remaining - per_hop_reserve`` (rounded down to whole ms,
  never below 0) so the downstream gives up before its caller does and the
  caller still has time to answer. It appends that same value to the chain.
- A receiver derives its own deadline as ``now + budget``. A budget larger
  than its ``max_budget`` is cut to ``max_budget`` (counted in
  ``resilience_deadline_clamped_total{source}``): no caller can make a service
  hold work longer than the service allows. Without the header the receiver
  uses ``default_budget`` and marks the deadline as defaulted (not explicit).
  A budget of 0 means the caller has already given up: answer at once.
- The chain never increases from hop to hop (a hop may not extend its
  caller's budget); it holds at most ``max_chain`` entries.
- Malformed values are rejected with :class:`HeaderError`, which names the
  header, the value and the rule broken. Header names match case-insensitively;
  a header given twice is malformed.

Times passed in (``now``) are on the same monotonic clock as the deadline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .._config import Config, non_negative, positive, rule
from ..deadline import Deadline
from ..metrics.counters import CounterSink
from ..outcome import TimeoutSource

__all__ = ["HeaderError", "Incoming", "PropagationConfig", "incoming", "outgoing_headers"]

CLAMPED_TOTAL = "resilience_deadline_clamped_total"
# matched with fullmatch: ``$`` would also accept a trailing newline
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_TRACE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MS = re.compile(r"[0-9]{1,12}")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class HeaderError(ValueError):
    """A propagation header broke a rule: ``<header>=<value>: <rule>``."""

    def __init__(self, header: str, value: str, rule: str) -> None:
        self.header = header
        self.value = value
        self.rule = rule
        super().__init__(f"{header}={value!r}: {rule}")


def _header_name(v: str) -> bool:
    return _HEADER_NAME.fullmatch(v) is not None


_NAME_RULE = rule(_header_name, "must be an HTTP header name (letters, digits, '-')")


@dataclass(frozen=True, slots=True)
class PropagationConfig(Config):
    """How a service reads and writes propagated deadlines (seconds)."""

    per_hop_reserve: float = field(default=0.05, metadata=rule(non_negative, "must be >= 0 and finite"))
    max_budget: float = field(default=30.0, metadata=rule(positive, "must be > 0 and finite"))
    default_budget: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    max_chain: int = field(default=32, metadata=rule(lambda v: 1 <= v <= 1024, "must be in 1..1024"))
    deadline_header: str = field(default="X-Request-Deadline-Ms", metadata=_NAME_RULE)
    trace_header: str = field(default="X-Trace-Id", metadata=_NAME_RULE)
    chain_header: str = field(default="X-Timeout-Chain", metadata=_NAME_RULE)

    def _cross_checks(self) -> None:
        if self.default_budget is not None and self.default_budget > self.max_budget:
            raise self._error("default_budget", f"must be <= max_budget ({self.max_budget})")
        if self.trace_header.lower() == self.deadline_header.lower():
            raise self._error("trace_header", "must differ from deadline_header")
        names = {self.deadline_header.lower(), self.trace_header.lower()}
        if self.chain_header.lower() in names:
            raise self._error("chain_header", "must differ from deadline_header and trace_header")

    @property
    def fallback_budget(self) -> float:
        """The budget used when no deadline header arrives."""
        return self.max_budget if self.default_budget is None else self.default_budget


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a receiver learned from the headers of one request."""

    deadline: Deadline
    budget: float  # seconds granted, after clamping
    trace_id: str | None
    chain: tuple[int, ...]
    clamped: bool  # the caller asked for more than max_budget
    explicit: bool  # False when no deadline header came and the default applied


def budget_ms(deadline: Deadline, now: float, reserve: float) -> int | None:
    """Whole milliseconds to send downstream, or None for a deadline that never ends."""
    left = deadline.remaining(now)
    if math.isinf(left):
        return None
    return max(0, math.floor((left - reserve) * 1000 + 1e-9))


def outgoing_headers(
    deadline: Deadline,
    now: float,
    *,
    trace_id: str | None = None,
    chain: Iterable[int] = (),
    config: PropagationConfig | None = None,
) -> dict[str, str]:
    """Headers for a downstream call under ``deadline``, reserve subtracted.

    A deadline that never ends sends no budget (and adds no chain entry).
    """
    cfg = config or PropagationConfig()
    out: dict[str, str] = {}
    hops = list(chain)
    ms = budget_ms(deadline, now, cfg.per_hop_reserve)
    if ms is not None:
        out[cfg.deadline_header] = str(ms)
        hops.append(ms)
    if trace_id is not None:
        _check_trace(cfg.trace_header, trace_id)
        out[cfg.trace_header] = trace_id
    if hops:
        out[cfg.chain_header] = ",".join(str(h) for h in hops[-cfg.max_chain :])
    return out


def incoming(
    headers: Headers,
    now: float,
    config: PropagationConfig | None = None,
    *,
    source: TimeoutSource = TimeoutSource.BACKEND,
    counters: CounterSink | None = None,
) -> Incoming:
    """Parse propagation headers and derive this hop's deadline (see the module rules)."""
    cfg = config or PropagationConfig()
    found = _lookup(headers, (cfg.deadline_header, cfg.trace_header, cfg.chain_header))
    raw_budget = found.get(cfg.deadline_header.lower())
    raw_trace = found.get(cfg.trace_header.lower())
    raw_chain = found.get(cfg.chain_header.lower())
    clamped = False
    if raw_budget is None:
        budget, explicit = cfg.fallback_budget, False
    else:
        budget, explicit = _parse_ms(cfg.deadline_header, raw_budget) / 1000, True
        if budget > cfg.max_budget:
            budget, clamped = cfg.max_budget, True
            if counters is not None:
                counters.inc(CLAMPED_TOTAL, {"source": source.value})
    trace_id = None
    if raw_trace is not None:
        trace_id = raw_trace.strip()
        _check_trace(cfg.trace_header, trace_id)
    chain = () if raw_chain is None else _parse_chain(cfg.chain_header, raw_chain, cfg.max_chain)
    deadline = Deadline.after(now, budget, explicit=explicit)
    return Incoming(deadline, budget, trace_id, chain, clamped, explicit)


def _lookup(headers: Headers, names: Iterable[str]) -> dict[str, str]:
    wanted = {n.lower() for n in names}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for key, value in pairs:
        low = key.lower()
        if low not in wanted:
            continue
        if low in found:
            raise HeaderError(key, value, "must appear at most once")
        found[low] = value
    return found


def _parse_ms(header: str, raw: str) -> int:
    text = raw.strip()
    if not _MS.fullmatch(text):
        raise HeaderError(header, raw, "must be a whole number of milliseconds >= 0 (at most 12 digits)")
    return int(text)


def _check_trace(header: str, value: str) -> None:
    if not _TRACE_ID.fullmatch(value):
        raise HeaderError(header, value, "must be 1-128 characters of A-Z a-z 0-9 . _ : -")


def _parse_chain(header: str, raw: str, max_chain: int) -> tuple[int, ...]:
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) > max_chain:
        raise HeaderError(header, raw, f"must have at most {max_chain} entries")
    hops: list[int] = []
    for part in parts:
        if not _MS.fullmatch(part):
            raise HeaderError(header, raw, "entries must be whole milliseconds >= 0, comma-separated")
        value = int(part)
        if hops and value > hops[-1]:
            raise HeaderError(header, raw, "entries must not increase from hop to hop")
        hops.append(value)
    return tuple(hops)
