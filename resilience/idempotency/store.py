"""An idempotency-key store with TTL, duplicate detection and compare-and-set.

``begin(key, now, fingerprint)`` answers exactly one caller per key with
:class:`New` (execute, holding ``token``); a duplicate while the key is pending
gets :class:`InProgress` (HTTP 409 in the IETF "Idempotency-Key" header draft,
with a retry hint) and never a second execution; a finished key gives
:class:`Replay` of the stored result; the same key with a different request
fingerprint gives :class:`KeyConflict` (HTTP 422 in that draft).

State changes go through :meth:`IdempotencyStore.compare_and_set`, which checks
the expected current state (the ``expect-state`` contract), the owner token and
the state machine, and answers like HTTP: 200, 404 (no such key) or 409
(mismatch or illegal transition). Expired keys are purged lazily with ``now``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from .._config import Config, positive, rule
from ..metrics.counters import CounterSink, LabelCounts
from .states import KeyState, can_transition

__all__ = [
    "BeginResult",
    "CasResult",
    "IdempotencyConfig",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InProgress",
    "KeyConflict",
    "New",
    "Replay",
]

_POSITIVE = rule(positive, "must be > 0 and finite")


@dataclass(frozen=True, slots=True)
class IdempotencyConfig(Config):
    """``ttl``: how long a finished key replays (24 to 72 hours is typical).

    ``pending_ttl``: how long a pending key blocks duplicates before it is
    presumed abandoned and purged; set it above the longest execution. A key
    whose execution was interrupted (outcome unknown) stays pending this long.
    ``retry_after``: the hint given with "in progress".
    """

    ttl: float = field(default=86_400.0, metadata=_POSITIVE)
    pending_ttl: float = field(default=300.0, metadata=_POSITIVE)
    retry_after: float = field(default=1.0, metadata=_POSITIVE)

    def _cross_checks(self) -> None:
        if self.pending_ttl > self.ttl:
            raise self._error("pending_ttl", f"must be <= ttl ({self.ttl})")


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An immutable snapshot of one key."""

    key: str
    state: KeyState
    token: int
    fingerprint: str | None
    created_at: float
    expires_at: float
    result: Any = None


class New:
    """First sight of the key: execute, then ``succeed``/``fail`` with ``token``."""

    __slots__ = ("key", "token")

    def __init__(self, key: str, token: int) -> None:
        self.key = key
        self.token = token

    def __repr__(self) -> str:
        return f"New({self.key!r}, token={self.token})"


class InProgress:
    """The key is pending: do not execute; ask again after ``retry_after`` seconds."""

    __slots__ = ("key", "retry_after")
    status = 409

    def __init__(self, key: str, retry_after: float) -> None:
        self.key = key
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"InProgress({self.key!r}, retry_after={self.retry_after!r})"


class Replay:
    """The key finished: ``record.state`` and ``record.result`` are the stored answer."""

    __slots__ = ("record",)

    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record

    @property
    def result(self) -> Any:
        return self.record.result

    def __repr__(self) -> str:
        return f"Replay({self.record.key!r}, {self.record.state.value})"


class KeyConflict:
    """The key was used for a different request (fingerprint mismatch)."""

    __slots__ = ("key",)
    status = 422

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"KeyConflict({self.key!r})"


BeginResult = New | InProgress | Replay | KeyConflict
"""What ``IdempotencyStore.begin`` answers."""


@dataclass(frozen=True, slots=True)
class CasResult:
    """The answer to a compare-and-set, HTTP style: 200 ok, 404 not_found, 409 conflict."""

    status: int
    reason: str  # ok / not_found / state_mismatch / token_mismatch / illegal_transition
    state: KeyState | None  # the key's state after the call (None: no such key)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def conflict(self) -> bool:
        return self.status == 409


class IdempotencyStore:
    """In-memory, thread-safe key store; lookups counted in ``counts`` by result."""

    __slots__ = ("_heap", "_lock", "_records", "_tokens", "config", "counts", "name")

    def __init__(
        self,
        config: IdempotencyConfig | None = None,
        *,
        name: str = "default",
        sink: CounterSink | None = None,
    ) -> None:
        self.config = config or IdempotencyConfig()
        self.name = name
        self.counts = LabelCounts("resilience_idempotency_total", "result", name, sink)
        self._lock = threading.Lock()
        self._records: dict[str, IdempotencyRecord] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._tokens = itertools.count(1)

    def __len__(self) -> int:
        return len(self._records)

    def begin(self, key: str, now: float, fingerprint: str | None = None) -> BeginResult:
        """Claim ``key`` for execution, or learn why not (see the module docs)."""
        answer: BeginResult
        with self._lock:
            self._purge(now)
            record = self._records.get(key)
            if record is None:
                token = next(self._tokens)
                expires_at = now + self.config.pending_ttl
                self._put(IdempotencyRecord(key, KeyState.PENDING, token, fingerprint, now, expires_at))
                answer, label = New(key, token), "new"
            elif (
                fingerprint is not None
                and record.fingerprint is not None
                and fingerprint != record.fingerprint
            ):
                answer, label = KeyConflict(key), "conflict"
            elif record.state is KeyState.PENDING:
                answer, label = InProgress(key, self.config.retry_after), "in_progress"
            else:
                answer, label = Replay(record), "replayed"
        self.counts.inc(label)
        return answer

    def get(self, key: str, now: float) -> IdempotencyRecord | None:
        """The live record for ``key`` (expired ones are purged first)."""
        with self._lock:
            self._purge(now)
            return self._records.get(key)

    def compare_and_set(
        self,
        key: str,
        expected: KeyState,
        target: KeyState,
        now: float,
        *,
        result: Any = None,
        token: int | None = None,
    ) -> CasResult:
        """Move ``key`` from ``expected`` to ``target`` (storing ``result``) if it is there now.

        A finished key is kept for ``ttl`` from ``now``. Mismatches are counted
        as ``state_conflict``.
        """
        with self._lock:
            self._purge(now)
            record = self._records.get(key)
            if record is None:
                answer = CasResult(404, "not_found", None)
            elif record.state is not expected:
                answer = CasResult(409, "state_mismatch", record.state)
            elif token is not None and token != record.token:
                answer = CasResult(409, "token_mismatch", record.state)
            elif not can_transition(record.state, target):
                answer = CasResult(409, "illegal_transition", record.state)
            else:
                self._put(replace(record, state=target, result=result, expires_at=now + self.config.ttl))
                return CasResult(200, "ok", target)
        self.counts.inc("state_conflict")
        return answer

    def succeed(self, key: str, token: int, now: float, result: Any = None) -> CasResult:
        """pending → succeeded for the owner of ``token``."""
        return self.compare_and_set(
            key, KeyState.PENDING, KeyState.SUCCEEDED, now, result=result, token=token
        )

    def fail(self, key: str, token: int, now: float, error: Any = None) -> CasResult:
        """pending → failed for the owner of ``token``; duplicates replay ``error``."""
        return self.compare_and_set(key, KeyState.PENDING, KeyState.FAILED, now, result=error, token=token)

    def release(self, key: str, token: int, now: float) -> CasResult:
        """Forget a pending key whose execution had no effect, so a retry may execute."""
        with self._lock:
            self._purge(now)
            record = self._records.get(key)
            if record is None:
                return CasResult(404, "not_found", None)
            if record.state is not KeyState.PENDING or record.token != token:
                reason = "state_mismatch" if record.state is not KeyState.PENDING else "token_mismatch"
                return CasResult(409, reason, record.state)
            del self._records[key]
            return CasResult(200, "ok", None)

    def purge(self, now: float) -> int:
        """Drop every key expired at ``now``; the number dropped."""
        with self._lock:
            return self._purge(now)

    # -- internals (callers hold the lock) ------------------------------------
    def _put(self, record: IdempotencyRecord) -> None:
        self._records[record.key] = record
        heapq.heappush(self._heap, (record.expires_at, record.token, record.key))

    def _purge(self, now: float) -> int:
        heap, records = self._heap, self._records
        dropped = 0
        while heap and heap[0][0] <= now:
            expires_at, token, key = heapq.heappop(heap)
            record = records.get(key)
            if record is not None and record.token == token and record.expires_at == expires_at:
                del records[key]
                dropped += 1
        return dropped
