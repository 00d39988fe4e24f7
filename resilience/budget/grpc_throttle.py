"""gRPC retry throttling (gRFC A6): a token count that failures drain and successes refill."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .._config import rule
from ..outcome import Outcome, OutcomeKind
from ..protocols import Grant
from ..rng import RandomSource
from ._base import BudgetConfig
from ._lease import Lease, settle

__all__ = ["GrpcRetryThrottle", "GrpcRetryThrottleConfig"]


def _milli(v: float) -> bool:
    return abs(v * 1000 - round(v * 1000)) < 1e-6


@dataclass(frozen=True, slots=True)
class GrpcRetryThrottleConfig(BudgetConfig):
    """The service config's ``retryThrottling`` block: ``maxTokens``, ``tokenRatio``.

    ``max_tokens``: 1..1000 (A6 requires > 0; gRPC implementations cap it at
    1000); ``token_ratio``: tokens a success adds, > 0 with at most 3 decimal
    places (A6 supports 3; here more is an error rather than silently dropped).
    Defaults are A6's example (10, 0.1).
    """

    kind = "grpc"
    max_tokens: int = field(default=10, metadata=rule(lambda v: 1 <= v <= 1000, "must be in 1..1000"))
    token_ratio: float = field(
        default=0.1,
        metadata=rule(
            lambda v: 0 < v <= 1e6 and _milli(v), "must be in (0, 1000000] with at most 3 decimal places"
        ),
    )

    def build(self, rng: RandomSource | None = None, name: str = "default") -> GrpcRetryThrottle:
        return GrpcRetryThrottle(self, name=name)


class GrpcRetryThrottle:
    """gRPC's per-server retry throttle (gRFC A6 "Throttling Retry Attempts"); thread-safe.

    ``token_count`` starts at ``max_tokens`` and stays in ``[0, max_tokens]``.
    Every attempt (first or retry) that fails *retryably* takes 1 token; every
    success adds ``token_ratio``. A retry is permitted only while
    ``token_count > max_tokens / 2``; it takes no token itself, so its grant
    costs 0: ``on_outcome`` counts the retry's outcome exactly as a first
    attempt's and settles the grant, and ``refund`` (the retry never ran)
    settles it and changes no token. As A6 says, only failures with a
    retryable status count (so malformed requests, here non-retryable
    outcomes, do not throttle), and cancellations change nothing. Arithmetic
    is in milli-tokens, as in gRPC C-core (``ServerRetryThrottleData``), so it
    is exact.
    """

    __slots__ = ("_lock", "_max", "_milli", "_outstanding", "_ratio", "_threshold", "config", "name")

    def __init__(self, config: GrpcRetryThrottleConfig | None = None, *, name: str = "default") -> None:
        self.config = config = config or GrpcRetryThrottleConfig()
        self.name = name
        self._lock = threading.Lock()
        self._max = config.max_tokens * 1000
        self._ratio = round(config.token_ratio * 1000)
        self._threshold = self._max // 2  # max is a multiple of 1000: exact
        self._milli = self._max
        self._outstanding = 0  # grants issued and not yet settled

    def on_request(self, now: float) -> bool:
        """Always True: A6 always sends the first attempt."""
        return True

    def try_acquire_retry(self, now: float, outcome: Outcome) -> Grant | None:
        """A grant of cost 0 while ``token_count > max_tokens / 2``, else None."""
        with self._lock:
            if self._milli <= self._threshold:
                return None
            self._outstanding += 1
            return Lease(self, 0, now)

    def on_outcome(self, now: float, outcome: Outcome, grant: Grant | None) -> None:
        """Success adds ``token_ratio``; a retryable failure takes 1; the rest changes nothing."""
        kind = outcome.kind
        with self._lock:
            if grant is not None and settle(grant, self):
                self._outstanding -= 1
            if kind is OutcomeKind.SUCCESS:
                self._milli = min(self._max, self._milli + self._ratio)
            elif kind is not OutcomeKind.CANCELLED and outcome.retryable:
                self._milli = max(0, self._milli - 1000)

    def refund(self, grant: Grant, now: float) -> None:
        """Settle ``grant``, whose retry never ran: it took no token, so none comes back."""
        with self._lock:
            if settle(grant, self):
                self._outstanding -= 1

    def available(self, now: float) -> float:
        """``token_count`` now."""
        return self._milli / 1000

    @property
    def tokens(self) -> float:
        """``token_count`` now."""
        return self._milli / 1000

    @property
    def outstanding(self) -> int:
        """Grants issued and not yet settled."""
        return self._outstanding

    def __repr__(self) -> str:
        return f"GrpcRetryThrottle(name={self.name!r}, tokens={self._milli / 1000}/{self.config.max_tokens})"
