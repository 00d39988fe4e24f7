"""Finagle-style retry budget: retries as a share of recent requests, plus a reserve."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from .._config import non_negative, rule
from ..outcome import Outcome
from ..protocols import Grant
from ..rng import RandomSource
from ._base import BudgetConfig
from ._lease import Lease, settle
from ._window import BucketedWindow

__all__ = ["RatioBudget", "RatioBudgetConfig"]

_REQUESTS, _RETRIES = 0, 1
_EPS = 1e-9  # absorbs float rounding in percent * requests (0.1 * 30 = 3.0000000000000004)


@dataclass(frozen=True, slots=True)
class RatioBudgetConfig(BudgetConfig):
    """Finagle ``RetryBudget(ttl, minRetriesPerSec, percentCanRetry)``; defaults are Finagle's.

    ``ttl``: seconds a request (deposit) and a retry (withdrawal) stay counted,
    1..60 as in Finagle (default 10); ``min_retries_per_second``: a reserve of
    ``min_retries_per_second * ttl`` retries per window for clients that just
    started or send little (default 10); ``percent_can_retry``: retries allowed
    per request, 0..1000 as in Finagle (0.2 = one retry per five requests);
    ``buckets``: time buckets in the window (Finagle's ``WindowedAdder`` uses 10).
    """

    kind = "ratio"
    ttl: float = field(default=10.0, metadata=rule(lambda v: 1 <= v <= 60, "must be in [1, 60] seconds"))
    min_retries_per_second: float = field(
        default=10.0, metadata=rule(non_negative, "must be >= 0 and finite")
    )
    percent_can_retry: float = field(
        default=0.2, metadata=rule(lambda v: 0 <= v <= 1000, "must be in [0, 1000]")
    )
    buckets: int = field(default=10, metadata=rule(lambda v: 1 <= v <= 1000, "must be in 1..1000"))

    @property
    def reserve(self) -> float:
        """Retries allowed per window without any request: ``min_retries_per_second * ttl``."""
        return self.min_retries_per_second * self.ttl

    def build(self, rng: RandomSource | None = None, name: str = "default") -> RatioBudget:
        return RatioBudget(self, name=name)


class RatioBudget:
    """Retries within any window <= ``percent_can_retry`` * requests + reserve; thread-safe.

    Finagle's ``RetryBudget.apply`` builds a leaky token bucket over a
    ``WindowedAdder``: each request deposits, each retry withdraws, and both
    expire after ``ttl``; a retry is allowed while the window's balance plus the
    reserve covers it. Here the same rule is kept as two windowed counts
    (requests, retries): a retry is granted iff ``retries + 1 <= percent *
    requests + reserve`` for the window ending now, and its grant (cost 1)
    records in ``at`` the time its withdrawal was counted. Only
    ``on_request`` deposits (Finagle's ``RequeueFilter`` deposits per
    request, not per retry).

    A retry that ran keeps its withdrawal for the whole ttl, as in Finagle, so
    a burst of retries blocks further ones until it ages out: ``on_outcome``
    only settles the grant (outcomes play no part). A retry that never ran
    (``refund``) gives its withdrawal back: it is taken out of the bucket it
    was counted in, unless that bucket has already left the window (then the
    withdrawal has expired on its own and nothing changes). A grant is
    settled once; settling it again, or another budget's grant, changes nothing.
    """

    __slots__ = ("_lock", "_outstanding", "_percent", "_reserve", "_window", "config", "name")

    def __init__(self, config: RatioBudgetConfig | None = None, *, name: str = "default") -> None:
        self.config = config = config or RatioBudgetConfig()
        self.name = name
        self._lock = threading.Lock()
        self._window = BucketedWindow(config.ttl, config.buckets, 2)
        self._percent = config.percent_can_retry
        self._reserve = config.reserve
        self._outstanding = 0  # grants issued and not yet settled

    def on_request(self, now: float) -> bool:
        """Deposit one request; always True (the budget limits retries only)."""
        with self._lock:
            w = self._window
            w.advance(now)
            w.add(_REQUESTS)
        return True

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        """A grant (one withdrawal, counted now) if the window still allows a retry, else None."""
        with self._lock:
            w = self._window
            w.advance(now)
            totals = w.totals
            if totals[_RETRIES] + 1 > self._percent * totals[_REQUESTS] + self._reserve + _EPS:
                return None
            w.add(_RETRIES)
            self._outstanding += 1
            return Lease(self, 1, w.latest)

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        """Settle ``grant``: the retry ran, so its withdrawal stays until it expires (outcomes do nothing)."""
        if grant is not None:
            with self._lock:
                if settle(grant, self):
                    self._outstanding -= 1

    def refund(self, grant: Grant, now: float) -> None:
        """Give back the withdrawal of ``grant``, whose retry never ran, if it has not expired yet."""
        with self._lock:
            if settle(grant, self):
                self._outstanding -= 1
                w = self._window
                w.advance(now)
                w.remove(_RETRIES, grant.at)

    def available(self, now: float) -> float:
        """Whole retries the window allows now (Finagle's ``balance``)."""
        with self._lock:
            w = self._window
            w.advance(now)
            totals = w.totals
            left = self._percent * totals[_REQUESTS] + self._reserve - totals[_RETRIES]
        return float(max(0, math.floor(left + _EPS)))

    def counts(self, now: float) -> tuple[int, int]:
        """``(requests, retries)`` counted in the window ending at ``now``."""
        with self._lock:
            w = self._window
            w.advance(now)
            return w.totals[_REQUESTS], w.totals[_RETRIES]

    @property
    def outstanding(self) -> int:
        """Grants issued and not yet settled."""
        return self._outstanding

    def __repr__(self) -> str:
        t = self._window.totals
        return f"RatioBudget(name={self.name!r}, requests={t[_REQUESTS]}, retries={t[_RETRIES]})"
