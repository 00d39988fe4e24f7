"""A concurrency gate driven by a limit algorithm (fixed, AIMD, gradient)."""

from __future__ import annotations

import threading
from typing import Protocol

from ..metrics.counters import CounterSink, LabelCounts
from ..outcome import Outcome, OutcomeKind
from .aimd import AIMDLimit
from .rejection import RejectionCause

__all__ = ["ConcurrencyLimiter", "FixedLimit", "LimitAlgorithm", "LimiterToken"]


class LimitAlgorithm(Protocol):
    """Anything that proposes a concurrency limit from finished calls."""

    @property
    def limit(self) -> int: ...

    def update(self, rtt: float, in_flight: int, dropped: bool) -> int: ...


class FixedLimit:
    """A constant limit (a plain semaphore)."""

    __slots__ = ("_limit",)

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"FixedLimit(limit={limit!r}): must be >= 1")
        self._limit = limit

    @property
    def limit(self) -> int:
        return self._limit

    def update(self, rtt: float, in_flight: int, dropped: bool) -> int:
        return self._limit


class LimiterToken:
    """Permission for one call; ``release`` exactly once with what happened."""

    __slots__ = ("_limiter", "in_flight", "released", "started_at")

    def __init__(self, limiter: ConcurrencyLimiter, started_at: float, in_flight: int) -> None:
        self._limiter = limiter
        self.started_at = started_at
        self.in_flight = in_flight  # calls in flight when this one started, itself included
        self.released = False

    def release(self, now: float, outcome: Outcome | None = None, *, rtt: float | None = None) -> None:
        """Return the slot and feed the algorithm.

        ``outcome`` None or success: a round-trip sample (``rtt`` defaults to
        ``now - started_at``). Timeout or rejected (shed): a drop. Error or
        cancelled: ignored by the algorithm (says nothing about capacity).
        """
        kind = OutcomeKind.SUCCESS if outcome is None else outcome.kind
        if kind is OutcomeKind.SUCCESS:
            sample: bool | None = False
        elif kind in (OutcomeKind.TIMEOUT, OutcomeKind.REJECTED):
            sample = True
        else:
            sample = None
        self._limiter._release(self, now, now - self.started_at if rtt is None else rtt, sample)


class ConcurrencyLimiter:
    """Thread-safe gate: at most ``algorithm.limit`` calls in flight.

    Refusals are counted as ``concurrency_limit``; ``acquired`` and
    ``released`` count granted and returned tokens.
    """

    __slots__ = ("_in_flight", "_lock", "acquired", "algorithm", "name", "rejections", "released")

    def __init__(
        self,
        algorithm: LimitAlgorithm | None = None,
        *,
        name: str = "default",
        sink: CounterSink | None = None,
    ) -> None:
        self.algorithm: LimitAlgorithm = algorithm if algorithm is not None else AIMDLimit()
        self.name = name
        self.rejections = LabelCounts("resilience_admission_rejections_total", "cause", name, sink)
        self._lock = threading.Lock()
        self._in_flight = 0
        self.acquired = 0
        self.released = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def limit(self) -> int:
        return self.algorithm.limit

    def try_acquire(self, now: float) -> LimiterToken | None:
        """A token if fewer than ``limit`` calls are in flight, else None (counted)."""
        with self._lock:
            n = self._in_flight
            if n < self.algorithm.limit:
                self._in_flight = n = n + 1
                self.acquired += 1
                return LimiterToken(self, now, n)
        self.rejections.inc(RejectionCause.CONCURRENCY_LIMIT.value)
        return None

    def _release(self, token: LimiterToken, now: float, rtt: float, dropped: bool | None) -> None:
        with self._lock:
            if token.released:
                raise RuntimeError("LimiterToken.release: already released")
            token.released = True
            self._in_flight -= 1
            self.released += 1
            if dropped is not None:
                self.algorithm.update(rtt, token.in_flight, dropped)
