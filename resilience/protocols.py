"""What an execution needs from a circuit breaker and a retry budget, and the leases they hand out.

Whatever a breaker or a budget grants is handed out as a lease that is
settled exactly once, on every path: a breaker ``Permit`` by ``record`` or
``release``, a budget ``Grant`` by ``on_outcome`` (the retry ran) or
``refund`` (it never did). A lease carries what settling it needs: the
breaker's generation (so a late outcome never decides a later state) and the
grant's cost (so a refund returns exactly what was taken).
"""

from __future__ import annotations

from typing import Protocol

from .outcome import Outcome

__all__ = ["BreakerLike", "BudgetLike", "Grant", "Permit"]


class Permit:
    """A breaker's permission for one call, valid for the breaker ``generation`` that granted it.

    ``probe`` marks one of the half-open round's limited permissions. A
    breaker may hand the same non-probe permit to every call of one
    generation (permits are immutable), so identity says nothing.
    """

    __slots__ = ("generation", "probe")

    def __init__(self, generation: int, probe: bool = False) -> None:
        self.generation = generation
        self.probe = probe

    def __repr__(self) -> str:
        return f"Permit(generation={self.generation}, probe={self.probe})"


class Grant:
    """A retry budget's permission for one retry: ``cost`` taken at time ``at``."""

    __slots__ = ("at", "cost")

    def __init__(self, cost: float, at: float) -> None:
        self.cost = cost
        self.at = at

    def __repr__(self) -> str:
        return f"Grant(cost={self.cost!r}, at={self.at!r})"


class BreakerLike(Protocol):
    """A circuit breaker as the execution uses it."""

    name: str

    def try_acquire(self, now: float) -> Permit | None:
        """A permit for one call now, or None (counted as not permitted)."""
        ...

    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None:
        """Settle ``permit`` with its call's outcome and duration."""
        ...

    def release(self, permit: Permit, now: float) -> None:
        """Settle ``permit`` whose call produced no outcome (cancelled, or its result unknown)."""
        ...

    def seconds_until_probe(self, now: float) -> float | None:
        """After a refusal: seconds until a call may be permitted again (None: not on its own)."""
        ...


class BudgetLike(Protocol):
    """A retry budget as the execution uses it."""

    def on_request(self, now: float) -> bool:
        """A logical request begins; False refuses it (client-side throttling)."""
        ...

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        """A grant for one retry after ``outcome`` (its cost is taken now), or None."""
        ...

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        """An attempt ended; ``grant`` is the retry's grant (None for a first attempt), settled here."""
        ...

    def refund(self, grant: Grant, now: float) -> None:
        """Settle ``grant`` whose retry never ran: return exactly its cost."""
        ...

    def available(self, now: float) -> float:
        """Tokens (or retries) available now, for metrics."""
        ...
