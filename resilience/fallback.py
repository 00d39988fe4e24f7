"""Degradation tiers after a primary failure: cached value → backup → async compensation.

A sans-I/O decision object per request (:meth:`Fallback.begin`) says which tier
to try next; thin helpers (:func:`call_with_fallback`,
:func:`async_call_with_fallback`) perform the calls. Every tier is optional.
The answer names the tier that served (:class:`FallbackResult`); answers from
a fallback tier are counted in ``resilience_fallbacks_total{tier}`` and never
as a primary success (the primary's failure stays recorded as a failure).
Which failures are degraded is a predicate (``handle``, Polly's ``ShouldHandle``):
by default only failures that carry a reason and I/O errors, so programming
errors propagate unchanged.
"""

from __future__ import annotations

import enum
import inspect
import threading
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._config import Config, positive, rule
from .clock import Clock, MonotonicClock
from .metrics.counters import CounterSink, LabelCounts
from .outcome import FailureReason
from .steps import GiveUp

__all__ = [
    "Accepted",
    "CallBackup",
    "CompensationRecord",
    "Degradation",
    "Enqueue",
    "Fail",
    "Fallback",
    "FallbackConfig",
    "FallbackResult",
    "Serve",
    "TTLCache",
    "Tier",
    "async_call_with_fallback",
    "call_with_fallback",
    "failure_reason",
    "handles_failure",
]

T = TypeVar("T")
_REASONS = frozenset(r.value for r in FailureReason)
_REASON_LIST = ", ".join(sorted(_REASONS))


class Tier(enum.Enum):
    """Who answered."""

    PRIMARY = "primary"
    CACHE = "cache"  # the last good primary answer for the key, if not older than stale_if_error
    BACKUP = "backup"  # a backup callable (a replica, a simpler service)
    COMPENSATION = "compensation"  # accepted for later: a record was queued for async processing


@dataclass(frozen=True, slots=True)
class FallbackConfig(Config):
    """``stale_if_error``: the oldest cached answer served on failure (seconds).

    ``skip_reasons``: failure reasons that are passed through without any
    fallback (by default ``cancelled``: nobody is waiting for the answer).
    """

    stale_if_error: float = field(default=300.0, metadata=rule(positive, "must be > 0 and finite"))
    max_entries: int = field(default=10_000, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    skip_reasons: frozenset[str] = field(
        default=frozenset({"cancelled"}),
        metadata=rule(
            lambda v: set(v) <= _REASONS, "must be failure reasons: " + ", ".join(sorted(_REASONS))
        ),
    )


@dataclass(frozen=True, slots=True)
class FallbackResult(Generic[T]):
    """The answer and the tier that served it."""

    value: T
    tier: Tier

    @property
    def degraded(self) -> bool:
        return self.tier is not Tier.PRIMARY


@dataclass(frozen=True, slots=True)
class CompensationRecord:
    """What the compensation tier queues: the key, why the primary failed, when, and a payload."""

    key: Hashable
    reason: str
    at: float
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """The value of a compensation answer: the request was accepted for later processing."""

    record: CompensationRecord


class TTLCache:
    """A thread-safe LRU of the last good answer per key; entries older than ``max_age`` are not served."""

    __slots__ = ("_data", "_lock", "max_age", "max_entries")

    def __init__(self, max_age: float, max_entries: int) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def put(self, key: Hashable, value: Any, now: float) -> None:
        with self._lock:
            self._data[key] = (now, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def get(self, key: Hashable, now: float) -> tuple[bool, Any]:
        """``(True, value)`` for an entry not older than ``max_age``; stale entries are dropped."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return False, None
            if now - entry[0] > self.max_age:
                del self._data[key]
                return False, None
            self._data.move_to_end(key)
            return True, entry[1]


# -- the steps a Degradation asks for --------------------------------------------
@dataclass(frozen=True, slots=True)
class Serve:
    """Answer with ``result``."""

    result: FallbackResult[Any]


@dataclass(frozen=True, slots=True)
class CallBackup:
    """Call the backup for ``key``; report with ``on_backup``."""

    key: Hashable


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Queue ``record`` for compensation; report with ``on_enqueued``."""

    record: CompensationRecord


@dataclass(frozen=True, slots=True)
class Fail:
    """No tier could answer: the primary failure stands."""

    reason: str


Step = Serve | CallBackup | Enqueue | Fail
CompensationSink = deque[CompensationRecord] | Callable[[CompensationRecord], Any]


Failure = GiveUp | BaseException
FailurePredicate = Callable[[Failure], bool]
_IO_ERRORS = (OSError, TimeoutError, ConnectionError)


def handles_failure(failure: Failure) -> bool:
    """The default ``handle``: a failure with a reason (``RequestFailed``, a GiveUp) or an I/O error.

    Anything else (``NameError``, ``TypeError``, ``KeyError``, ...) is a bug, not
    an outage: it is not degraded and propagates unchanged.
    """
    if isinstance(failure, GiveUp) or isinstance(getattr(failure, "reason", None), FailureReason):
        return True
    return isinstance(failure, _IO_ERRORS)


def failure_reason(failure: GiveUp | BaseException) -> str:
    """The failure reason label: a GiveUp's, an exception's ``reason`` attribute, else ``error``."""
    reason = failure.reason if isinstance(failure, GiveUp) else getattr(failure, "reason", None)
    return reason.value if isinstance(reason, FailureReason) else "error"


class Fallback:
    """The tiers for one target: shared, thread-safe; ``begin`` makes a per-request decision object.

    ``cache``: keep the last good primary answer per key (backup answers are
    not cached). ``backup(key)``: a callable (sync, or async for the asyncio
    helper). ``compensation``: a ``deque`` to append to or a callable taking a
    :class:`CompensationRecord`. ``handle(failure)``: whether a primary failure
    is degraded at all (default :func:`handles_failure`); a failure it refuses
    stands as it is, no tier is tried and nothing is counted.
    """

    __slots__ = ("backup", "cache", "compensation", "config", "counts", "handle", "name")

    def __init__(
        self,
        config: FallbackConfig | None = None,
        *,
        cache: bool = True,
        backup: Callable[[Any], Any] | None = None,
        compensation: CompensationSink | None = None,
        name: str = "default",
        sink: CounterSink | None = None,
        handle: FailurePredicate = handles_failure,
    ) -> None:
        self.config = c = config or FallbackConfig()
        self.cache = TTLCache(c.stale_if_error, c.max_entries) if cache else None
        self.backup = backup
        self.compensation = compensation
        self.name = name
        self.handle = handle
        self.counts = LabelCounts("resilience_fallbacks_total", "tier", name, sink)

    def begin(self, key: Hashable, payload: Any = None) -> Degradation:
        return Degradation(self, key, payload)

    def enqueue(self, record: CompensationRecord) -> None:
        sink = self.compensation
        if isinstance(sink, deque):
            sink.append(record)
        elif sink is not None:
            sink(record)


class Degradation:
    """The fallback decisions for one request (not shared between threads)."""

    __slots__ = ("_f", "_reason", "key", "payload")

    def __init__(self, fallback: Fallback, key: Hashable, payload: Any) -> None:
        self._f = fallback
        self.key = key
        self.payload = payload
        self._reason = "error"

    def on_success(self, now: float, value: T) -> FallbackResult[T]:
        """The primary answered: cache it; tier ``primary`` (not a fallback)."""
        if self._f.cache is not None:
            self._f.cache.put(self.key, value, now)
        return FallbackResult(value, Tier.PRIMARY)

    def on_failure(self, now: float, failure: GiveUp | BaseException) -> Step:
        """The primary failed: serve from cache, or name the next tier to try.

        ``Fail`` when ``handle`` refuses the failure or its reason is skipped.
        """
        f = self._f
        self._reason = reason = failure_reason(failure)
        if reason in f.config.skip_reasons or not f.handle(failure):
            return Fail(reason)
        if f.cache is not None:
            hit, value = f.cache.get(self.key, now)
            if hit:
                return self._serve(value, Tier.CACHE)
        if f.backup is not None:
            return CallBackup(self.key)
        return self._after_backup(now)

    def on_backup(self, now: float, value: Any = None, error: BaseException | None = None) -> Step:
        """The backup answered ``value`` or raised ``error``."""
        if error is None:
            return self._serve(value, Tier.BACKUP)
        return self._after_backup(now)

    def on_enqueued(self, now: float, record: CompensationRecord, ok: bool = True) -> Step:
        """The compensation record was queued (or the queue refused it)."""
        return self._serve(Accepted(record), Tier.COMPENSATION) if ok else Fail(self._reason)

    def _after_backup(self, now: float) -> Step:
        if self._f.compensation is not None:
            return Enqueue(CompensationRecord(self.key, self._reason, now, self.payload))
        return Fail(self._reason)

    def _serve(self, value: Any, tier: Tier) -> Serve:
        self._f.counts.inc(tier.value)
        return Serve(FallbackResult(value, tier))


def call_with_fallback(
    primary: Callable[[], T],
    fallback: Fallback,
    key: Hashable,
    *,
    payload: Any = None,
    clock: Clock | None = None,
) -> FallbackResult[Any]:
    """Call ``primary`` (any callable that raises on failure, e.g. a driver call); degrade on failure.

    When no tier can answer, the primary's exception is re-raised.
    """
    clock = clock or MonotonicClock()
    d = fallback.begin(key, payload)
    try:
        value = primary()
    except Exception as exc:
        step = d.on_failure(clock.now(), exc)
        while True:
            if isinstance(step, Serve):
                return step.result
            if isinstance(step, Fail):
                raise
            if isinstance(step, CallBackup):
                assert fallback.backup is not None
                try:
                    answer = fallback.backup(step.key)
                except Exception as backup_exc:
                    exc.add_note(f"backup failed: {backup_exc!r}")
                    step = d.on_backup(clock.now(), error=backup_exc)
                else:
                    step = d.on_backup(clock.now(), answer)
            else:
                step = _enqueue(fallback, d, step, clock, exc)
    return d.on_success(clock.now(), value)


async def async_call_with_fallback(
    primary: Callable[[], Awaitable[T]],
    fallback: Fallback,
    key: Hashable,
    *,
    payload: Any = None,
    clock: Clock | None = None,
) -> FallbackResult[Any]:
    """The asyncio form of :func:`call_with_fallback`; the backup may be sync or async."""
    clock = clock or MonotonicClock()
    d = fallback.begin(key, payload)
    try:
        value = await primary()
    except Exception as exc:
        step = d.on_failure(clock.now(), exc)
        while True:
            if isinstance(step, Serve):
                return step.result
            if isinstance(step, Fail):
                raise
            if isinstance(step, CallBackup):
                assert fallback.backup is not None
                try:
                    answer = fallback.backup(step.key)
                    if inspect.isawaitable(answer):
                        answer = await answer
                except Exception as backup_exc:
                    exc.add_note(f"backup failed: {backup_exc!r}")
                    step = d.on_backup(clock.now(), error=backup_exc)
                else:
                    step = d.on_backup(clock.now(), answer)
            else:
                step = _enqueue(fallback, d, step, clock, exc)
    return d.on_success(clock.now(), value)


def _enqueue(fallback: Fallback, d: Degradation, step: Enqueue, clock: Clock, exc: Exception) -> Step:
    try:
        fallback.enqueue(step.record)
    except Exception as queue_exc:
        exc.add_note(f"compensation enqueue failed: {queue_exc!r}")
        return d.on_enqueued(clock.now(), step.record, ok=False)
    return d.on_enqueued(clock.now(), step.record)
