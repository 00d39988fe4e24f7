"""What an execution needs from a circuit breaker and a retry budget."""

from __future__ import annotations

from typing import Protocol

from .outcome import Outcome

__all__ = ["BreakerLike", "BudgetLike"]


class BreakerLike(Protocol):
    """A circuit breaker as the execution uses it."""

    name: str

    def try_acquire(self, now: float) -> bool:
        """Permission for one call now; a refusal is counted as not permitted."""
        ...

    def release(self, now: float) -> None:
        """Return a permission whose call never produced an outcome (cancelled)."""
        ...

    def record(self, now: float, duration: float, outcome: Outcome) -> None:
        """Record a permitted call's outcome and duration."""
        ...


class BudgetLike(Protocol):
    """A retry budget as the execution uses it."""

    def on_request(self, now: float) -> bool:
        """A logical request begins; False refuses it (client-side throttling)."""
        ...

    def try_acquire_retry(self, now: float, outcome: Outcome) -> bool:
        """Permission to retry after ``outcome``; takes tokens when granted."""
        ...

    def on_outcome(self, now: float, outcome: Outcome, *, retry: bool) -> None:
        """An attempt ended (``retry``: it was not the first)."""
        ...

    def available(self, now: float) -> float:
        """Tokens (or retries) available now, for metrics."""
        ...
