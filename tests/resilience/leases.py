"""Recording proxies that count every lease a breaker or a budget hands out, and how it is settled.

``RecordingBreaker`` and ``RecordingBudget`` wrap a real ``BreakerLike`` /
``BudgetLike`` and hand the caller a fresh token per lease (a new ``Permit`` or
``Grant`` object), passing the real lease on when the token is settled. The
shared ``LeaseLedger`` knows, independently of the code under test, which
tokens are still unsettled and which were settled twice or were never issued.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from resilience.core import Grant, Outcome, Permit
from resilience.protocols import BreakerLike, BudgetLike

__all__ = ["LeaseLedger", "RecordingBreaker", "RecordingBudget"]


class LeaseLedger:
    """Thread-safe book of issued and settled leases (``permit`` and ``grant`` tokens)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, tuple[str, object, Any]] = {}  # id(token) -> (kind, token, real lease)
        self.issued: Counter[str] = Counter()
        self.settled: Counter[str] = Counter()  # by "kind:how"
        self.bad: list[str] = []  # settlements of tokens never issued or already settled

    def issue(self, kind: str, token: object, real: Any) -> None:
        with self._lock:
            self._open[id(token)] = (kind, token, real)
            self.issued[kind] += 1

    def settle(self, kind: str, token: object, how: str) -> Any:
        """The real lease behind ``token``, now settled ``how``; None (and a ``bad`` entry) if not open."""
        with self._lock:
            entry = self._open.pop(id(token), None)
            if entry is None or entry[0] != kind or entry[1] is not token:
                self.bad.append(f"{kind} {token!r} settled by {how} but not outstanding")
                return None
            self.settled[f"{kind}:{how}"] += 1
            return entry[2]

    def unsettled(self) -> Counter[str]:
        """Outstanding leases by kind."""
        with self._lock:
            return Counter(kind for kind, _, _ in self._open.values())


class RecordingBreaker:
    """A ``BreakerLike`` that records its leases in ``ledger`` and delegates to ``real``."""

    def __init__(self, real: BreakerLike, ledger: LeaseLedger) -> None:
        self.real = real
        self.ledger = ledger
        self.name = real.name
        self.refused = 0

    def try_acquire(self, now: float) -> Permit | None:
        permit = self.real.try_acquire(now)
        if permit is None:
            self.refused += 1
            return None
        token = Permit(permit.generation, permit.probe)
        self.ledger.issue("permit", token, permit)
        return token

    def record(self, permit: Permit, now: float, duration: float, outcome: Outcome) -> None:
        real = self.ledger.settle("permit", permit, "record")
        if real is not None:
            self.real.record(real, now, duration, outcome)

    def release(self, permit: Permit, now: float) -> None:
        real = self.ledger.settle("permit", permit, "release")
        if real is not None:
            self.real.release(real, now)

    def seconds_until_probe(self, now: float) -> float | None:
        return self.real.seconds_until_probe(now)


class RecordingBudget:
    """A ``BudgetLike`` that records its grants in ``ledger`` and delegates to ``real``."""

    def __init__(self, real: BudgetLike, ledger: LeaseLedger) -> None:
        self.real = real
        self.ledger = ledger

    def on_request(self, now: float) -> bool:
        return self.real.on_request(now)

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        grant = self.real.try_acquire_retry(now, outcome)
        if grant is None:
            return None
        token = Grant(grant.cost, grant.at)
        self.ledger.issue("grant", token, grant)
        return token

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        real = None if grant is None else self.ledger.settle("grant", grant, "ran")
        if grant is None or real is not None:
            self.real.on_outcome(now, outcome, real)

    def refund(self, grant: Grant, now: float) -> None:
        real = self.ledger.settle("grant", grant, "refund")
        if real is not None:
            self.real.refund(real, now)

    def available(self, now: float) -> float:
        return self.real.available(now)
