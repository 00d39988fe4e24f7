"""Google SRE client-side adaptive throttling: reject locally as accepts fall behind requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._config import rule
from ..outcome import Outcome, OutcomeKind
from ..protocols import Grant
from ..rng import RandomSource
from ._base import BudgetConfig
from ._lease import Lease, settle
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
    request is counted. A retry that passes gets a grant (cost 1: its request)
    whose ``at`` is the time the request was counted.

    An accept is an outcome where the backend took the request and answered:
    SUCCESS and ERROR (an application error is still an answer). REJECTED
    (429/503: the backend shed it) and TIMEOUT (no answer) are not accepts. A
    CANCELLED attempt is counted as an accept: the caller gave up, which says
    nothing against the backend, so it must not push p up. ``on_outcome``
    counts a retry's outcome exactly as a first attempt's and settles its grant.

    A retry this throttle admitted but that never ran (``refund``: another
    layer refused it, or it was abandoned) never reached the backend, so it
    can earn no accept: its request is taken back out of the bucket it was
    counted in, unless that bucket has left the window. Requests the throttle
    itself rejected stay counted (the formula relies on them). A grant is
    settled once; settling it again, or another budget's grant, changes nothing.
    """

    __slots__ = ("_k", "_lock", "_outstanding", "_rng", "_window", "config", "name")

    def __init__(self, config: AdaptiveThrottleConfig, rng: RandomSource, *, name: str = "default") -> None:
        self.config = config
        self.name = name
        self._lock = threading.Lock()
        self._window = BucketedWindow(config.window, config.buckets, 2)
        self._k = config.k
        self._rng = rng
        self._outstanding = 0  # grants issued and not yet settled

    def _p(self) -> float:
        requests, accepts = self._window.totals
        return max(0.0, (requests - self._k * accepts) / (requests + 1))

    def _admit(self) -> bool:
        p = self._p()
        self._window.add(_REQUESTS)
        return not (p > 0.0 and self._rng.random() < p)

    def on_request(self, now: float) -> bool:
        """Count a request; False rejects it locally (with probability p)."""
        with self._lock:
            self._window.advance(now)
            return self._admit()

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        """A retry is a request too: counted, and rejected (None) with probability p."""
        with self._lock:
            w = self._window
            w.advance(now)
            if not self._admit():
                return None
            self._outstanding += 1
            return Lease(self, 1, w.latest)

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        """Settle ``grant``; count an accept unless the backend shed the attempt or did not answer."""
        accepted = outcome.kind not in _NOT_ACCEPTED
        if grant is None and not accepted:
            return
        with self._lock:
            if grant is not None and settle(grant, self):
                self._outstanding -= 1
            if accepted:
                w = self._window
                w.advance(now)
                w.add(_ACCEPTS)

    def refund(self, grant: Grant, now: float) -> None:
        """Take back the request of ``grant``, whose retry never ran, if it has not expired yet."""
        with self._lock:
            if settle(grant, self):
                self._outstanding -= 1
                w = self._window
                w.advance(now)
                w.remove(_REQUESTS, grant.at)

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

    @property
    def outstanding(self) -> int:
        """Grants issued and not yet settled."""
        return self._outstanding

    def __repr__(self) -> str:
        r, a = self._window.totals
        return f"AdaptiveThrottle(name={self.name!r}, requests={r}, accepts={a}, k={self._k})"
