"""AWS-SDK-style retry quota: a token bucket that retries draw from and successes refill."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._config import rule
from ..outcome import Outcome, OutcomeKind
from ..protocols import Grant
from ..rng import RandomSource
from ._base import BudgetConfig
from ._lease import Lease, settle

__all__ = ["TokenBucketBudget", "TokenBucketBudgetConfig"]

_MAX = 10**9


def _count(lo: int) -> dict[str, object]:
    return rule(lambda v: lo <= v <= _MAX, f"must be in {lo}..{_MAX}")


@dataclass(frozen=True, slots=True)
class TokenBucketBudgetConfig(BudgetConfig):
    """The AWS SDKs' "standard" retry mode quota (defaults are the SDKs' constants).

    ``capacity``: tokens at start and at most (``INITIAL_RETRY_TOKENS`` = 500);
    ``retry_cost``: tokens a retry takes (``RETRY_COST`` = 5); ``timeout_cost``:
    what a retry after a timeout takes (``TIMEOUT_RETRY_COST`` = 10);
    ``no_retry_increment``: refund for a request that succeeded at its first
    attempt (``NO_RETRY_INCREMENT`` = 1). Costs must fit in the capacity.
    """

    kind = "token_bucket"
    capacity: int = field(default=500, metadata=_count(1))
    retry_cost: int = field(default=5, metadata=_count(1))
    timeout_cost: int = field(default=10, metadata=_count(1))
    no_retry_increment: int = field(default=1, metadata=_count(0))

    def _cross_checks(self) -> None:
        for name in ("retry_cost", "timeout_cost", "no_retry_increment"):
            if getattr(self, name) > self.capacity:
                raise self._error(name, f"must be <= capacity ({self.capacity})")

    def build(self, rng: RandomSource | None = None, name: str = "default") -> TokenBucketBudget:
        return TokenBucketBudget(self, name=name)


class TokenBucketBudget:
    """A retry token bucket shared by every request to one target; thread-safe.

    Semantics follow the AWS SDKs' standard retry mode (botocore
    ``retries/standard.py`` ``RetryQuotaChecker``, aws-sdk-js-v3
    ``defaultRetryQuota``): the bucket starts full; a retry is granted only if
    its cost (``timeout_cost`` after a TIMEOUT outcome, else ``retry_cost``) is
    available, and the grant takes it. A first attempt (no grant) that
    succeeds refunds ``no_retry_increment``; a retry that succeeds refunds its
    own grant's cost, and one that fails refunds nothing. ``refund`` (the
    retry never ran) returns the grant's cost. Either way exactly that grant's
    cost, whatever else is outstanding, as the SDKs do by carrying the cost in
    the request's context. Tokens never leave ``[0, capacity]`` (refunds above
    capacity are dropped). A grant is settled once: settling it again, or
    settling another budget's grant, returns nothing. Requests are never
    refused (``on_request`` is always True) and time plays no part.
    """

    __slots__ = ("_lock", "_outstanding", "_tokens", "config", "name")

    def __init__(self, config: TokenBucketBudgetConfig | None = None, *, name: str = "default") -> None:
        self.config = config = config or TokenBucketBudgetConfig()
        self.name = name
        self._lock = threading.Lock()
        self._tokens = config.capacity
        self._outstanding = 0  # grants issued and not yet settled

    def cost(self, outcome: Outcome) -> int:
        """Tokens a retry after ``outcome`` takes."""
        c = self.config
        return c.timeout_cost if outcome.kind is OutcomeKind.TIMEOUT else c.retry_cost

    def on_request(self, now: float) -> bool:
        """Always True: the quota limits retries, never first attempts."""
        return True

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        """A grant holding the retry's cost if it is available; None leaves the bucket untouched."""
        cost = self.cost(outcome)
        with self._lock:
            if self._tokens < cost:
                return None
            self._tokens -= cost
            self._outstanding += 1
            return Lease(self, cost, now)

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        """On success refund ``no_retry_increment`` (first attempt) or the grant's cost (retry)."""
        ok = outcome.kind is OutcomeKind.SUCCESS
        with self._lock:
            if grant is None:
                if ok:
                    self._credit(self.config.no_retry_increment)
            elif settle(grant, self):
                self._outstanding -= 1
                if ok:
                    self._credit(int(grant.cost))

    def refund(self, grant: Grant, now: float) -> None:
        """Return the cost of ``grant``, whose retry never ran."""
        with self._lock:
            if settle(grant, self):
                self._outstanding -= 1
                self._credit(int(grant.cost))

    def _credit(self, tokens: int) -> None:
        self._tokens = min(self.config.capacity, self._tokens + tokens)

    def available(self, now: float) -> float:
        """Tokens in the bucket now."""
        return float(self._tokens)

    @property
    def tokens(self) -> int:
        """Tokens in the bucket (exact integer)."""
        return self._tokens

    @property
    def outstanding(self) -> int:
        """Grants issued and not yet settled."""
        return self._outstanding

    def __repr__(self) -> str:
        return f"TokenBucketBudget(name={self.name!r}, tokens={self._tokens}/{self.config.capacity})"
