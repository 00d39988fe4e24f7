"""Google SRE client-side adaptive throttling: reject locally as accepts fall behind requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._config import rule
from ..outcome import Outcome, OutcomeKind
from ..rng import RandomSource
from ._base import BudgetConfig
from ._window import BucketedWindow

__all__ = ["AdaptiveThrottle", "AdaptiveThrottleConfig"]

_REQUESTS, _ACCEPTS = 0, 1
_NOT_ACCEPTED = frozenset({OutcomeKind.REJECTED, OutcomeKind.TIMEOUT})


@dataclass(frozen=True, slots=True)
class AdaptiveThrottleConfig(BudgetConfig):
    """Client-side throttling settings (SRE book, "Handling Overload").

    ``window``: seconds of history (the book uses two minutes; default 120);
    ``buckets``: time buckets in the window (default 60, two seconds each);
    ``k``: the accepts multiplier, >= 1 (default 2; smaller is more aggressive,
    and below 1 a fully healthy backend would be throttled).
    """

    kind = "adaptive"
    window: float = field(
        default=120.0, metadata=rule(lambda v: 0 < v <= 86400, "must be in (0, 86400] seconds")
    )
    buckets: int = field(default=60, metadata=rule(lambda v: 1 <= v <= 10000, "must be in 1..10000"))
    k: float = field(default=2.0, metadata=rule(lambda v: 1 <= v <= 1e6, "must be in [1, 1000000]"))

    def build(self, rng: RandomSource | None = None, name: str = "default") -> AdaptiveThrottle:
        if rng is None:
            raise ValueError("AdaptiveThrottleConfig.build: an rng is required (e.g. random.Random(seed))")
        return AdaptiveThrottle(self, rng, name=name)


class AdaptiveThrottle:
    """Rejects a request locally with p = max(0, (requests - K*accepts) / (requests + 1)); thread-safe.

    As in the SRE book's client-side throttling: every request the client
    tries to send is counted as a request, including those it then rejects
    locally, and every attempt the backend accepted is counted as an accept,
    both over the last ``window`` seconds. Each first attempt (``on_request``)
    and each retry (``try_acquire_retry``) is one request and passes the same
    random check, drawn from the injected rng with p computed before the
    request is counted.

    An accept is an outcome where the backend took the request and answered:
    SUCCESS and ERROR (an application error is still an answer). REJECTED
    (429/503: the backend shed it) and TIMEOUT (no answer) are not accepts. A
    CANCELLED attempt is counted as an accept: the caller gave up, which says
    nothing against the backend, so it must not push p up.
    """

    __slots__ = ("_k", "_lock", "_rng", "_window", "config", "name")

    def __init__(self, config: AdaptiveThrottleConfig, rng: RandomSource, *, name: str = "default") -> None:
        self.config = config
        self.name = name
        self._lock = threading.Lock()
        self._window = BucketedWindow(config.window, config.buckets, 2)
        self._k = config.k
        self._rng = rng

    def _p(self) -> float:
        requests, accepts = self._window.totals
        return max(0.0, (requests - self._k * accepts) / (requests + 1))

    def _admit(self, now: float) -> bool:
        with self._lock:
            w = self._window
            w.advance(now)
            p = self._p()
            w.add(_REQUESTS)
            return not (p > 0.0 and self._rng.random() < p)

    def on_request(self, now: float) -> bool:
        """Count a request; False rejects it locally (with probability p)."""
        return self._admit(now)

    def try_acquire_retry(self, now: float, outcome: Outcome) -> bool:
        """A retry is a request too: counted, and rejected with probability p."""
        return self._admit(now)

    def on_outcome(self, now: float, outcome: Outcome, *, retry: bool) -> None:
        """Count an accept unless the backend shed the attempt or did not answer."""
        if outcome.kind in _NOT_ACCEPTED:
            return
        with self._lock:
            w = self._window
            w.advance(now)
            w.add(_ACCEPTS)

    def rejection_probability(self, now: float) -> float:
        """p for a request sent at ``now``, in [0, 1)."""
        with self._lock:
            self._window.advance(now)
            return self._p()

    def counts(self, now: float) -> tuple[int, int]:
        """``(requests, accepts)`` in the window ending at ``now``."""
        with self._lock:
            w = self._window
            w.advance(now)
            return w.totals[_REQUESTS], w.totals[_ACCEPTS]

    def available(self, now: float) -> float:
        """Headroom: requests sendable before throttling starts, max(0, K*accepts - requests)."""
        with self._lock:
            w = self._window
            w.advance(now)
            requests, accepts = w.totals
        return max(0.0, self._k * accepts - requests)

    def __repr__(self) -> str:
        r, a = self._window.totals
        return f"AdaptiveThrottle(name={self.name!r}, requests={r}, accepts={a}, k={self._k})"
