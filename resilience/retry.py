"""Retry configuration: how many attempts, how long each, how long to wait."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._config import Config, non_negative, positive, rule
from .backoff import Backoff, ExponentialBackoff, FullJitter

__all__ = ["RetryConfig"]


@dataclass(frozen=True, slots=True)
class RetryConfig(Config):
    """Retry settings. ``max_attempts`` counts the first call.

    ``attempt_timeout`` bounds each attempt; ``timeout`` is the overall deadline
    from the start of the request (an enclosing deadline, if earlier, wins).
    A server's ``Retry-After`` replaces the backoff delay when
    ``honor_retry_after``; it is clamped to ``max_retry_after`` (counted as
    ``retry_after_clamped``).
    """

    max_attempts: int = field(default=3, metadata=rule(lambda v: 1 <= v <= 1000, "must be in 1..1000"))
    attempt_timeout: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    timeout: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    backoff: Backoff = field(
        default_factory=lambda: ExponentialBackoff(base=0.1, cap=10.0, jitter=FullJitter())
    )
    honor_retry_after: bool = True
    max_retry_after: float = field(default=60.0, metadata=rule(non_negative, "must be >= 0 and finite"))

    def _cross_checks(self) -> None:
        if (
            self.attempt_timeout is not None
            and self.timeout is not None
            and self.attempt_timeout > self.timeout
        ):
            raise self._error("attempt_timeout", f"must be <= timeout ({self.timeout})")
