"""AWS-SDK-style retry quota: a token bucket that retries draw from and successes refill."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._config import rule
from ..outcome import Outcome, OutcomeKind
from ..rng import RandomSource
from ._base import BudgetConfig

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
    available, and then takes it; a request whose first attempt succeeds
    refunds ``no_retry_increment``; a retry that succeeds refunds its own cost.
    Tokens never leave ``[0, capacity]`` (refunds above capacity are dropped).
    Requests are never refused (``on_request`` is always True) and time plays
    no part: only outcomes refill the bucket.

    The SDKs carry the acquired cost in the request's context; the budget
    protocol does not, so grants not yet resolved are counted per cost and a
    retry's outcome resolves one of them: the cheaper kind first when both are
    outstanding (so concurrent mixes of costs never refund more than was
    taken). With one request in flight, or one kind of cost, this is exact. A
    retry's outcome with nothing outstanding refunds nothing.
    """

    __slots__ = ("_lock", "_open_retry", "_open_timeout", "_tokens", "config", "name")

    def __init__(self, config: TokenBucketBudgetConfig | None = None, *, name: str = "default") -> None:
        self.config = config = config or TokenBucketBudgetConfig()
        self.name = name
        self._lock = threading.Lock()
        self._tokens = config.capacity
        self._open_retry = 0  # granted at retry_cost, attempt's outcome not reported yet
        self._open_timeout = 0  # granted at timeout_cost, likewise

    def cost(self, outcome: Outcome) -> int:
        """Tokens a retry after ``outcome`` takes."""
        c = self.config
        return c.timeout_cost if outcome.kind is OutcomeKind.TIMEOUT else c.retry_cost

    def on_request(self, now: float) -> bool:
        """Always True: the quota limits retries, never first attempts."""
        return True

    def try_acquire_retry(self, now: float, outcome: Outcome) -> bool:
        """Take the retry's cost if it is available; False leaves the bucket untouched."""
        timeout = outcome.kind is OutcomeKind.TIMEOUT
        c = self.config
        cost = c.timeout_cost if timeout else c.retry_cost
        with self._lock:
            if self._tokens < cost:
                return False
            self._tokens -= cost
            if timeout:
                self._open_timeout += 1
            else:
                self._open_retry += 1
            return True

    def on_outcome(self, now: float, outcome: Outcome, *, retry: bool) -> None:
        """Refund on success: ``no_retry_increment`` for a first attempt, the cost for a retry."""
        c = self.config
        ok = outcome.kind is OutcomeKind.SUCCESS
        with self._lock:
            if not retry:
                if ok:
                    self._tokens = min(c.capacity, self._tokens + c.no_retry_increment)
                return
            open_retry, open_timeout = self._open_retry, self._open_timeout
            if open_retry and (not open_timeout or c.retry_cost <= c.timeout_cost):
                self._open_retry = open_retry - 1
                refund = c.retry_cost
            elif open_timeout:
                self._open_timeout = open_timeout - 1
                refund = c.timeout_cost
            else:
                return
            if ok:
                self._tokens = min(c.capacity, self._tokens + refund)

    def available(self, now: float) -> float:
        """Tokens in the bucket now."""
        return float(self._tokens)

    @property
    def tokens(self) -> int:
        """Tokens in the bucket (exact integer)."""
        return self._tokens

    def __repr__(self) -> str:
        return f"TokenBucketBudget(name={self.name!r}, tokens={self._tokens}/{self.config.capacity})"
