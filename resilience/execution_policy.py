"""The retry settings one execution decides by, resolved once per pipeline."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .backoff import Backoff
from .retry import RetryConfig

__all__ = ["ExecutionPolicy"]


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """What an ``Execution`` needs of its retry configuration, plus the name its events carry.

    ``attempt_timeout`` is ``inf`` when attempts are unbounded.
    """

    max_attempts: int
    attempt_timeout: float
    backoff: Backoff
    honor_retry_after: bool
    max_retry_after: float
    name: str = "default"

    def __post_init__(self) -> None:
        checks = (
            ("max_attempts", self.max_attempts >= 1, "must be >= 1"),
            ("attempt_timeout", self.attempt_timeout > 0, "must be > 0 (inf: unbounded)"),
            ("max_retry_after", 0 <= self.max_retry_after < math.inf, "must be >= 0 and finite"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"ExecutionPolicy.{name}={getattr(self, name)!r}: {rule}")

    @classmethod
    def from_retry(cls, retry: RetryConfig, name: str = "default") -> ExecutionPolicy:
        """The policy for ``retry`` (its overall ``timeout`` becomes a deadline at ``begin``)."""
        return cls(
            max_attempts=retry.max_attempts,
            attempt_timeout=math.inf if retry.attempt_timeout is None else retry.attempt_timeout,
            backoff=retry.backoff,
            honor_retry_after=retry.honor_retry_after,
            max_retry_after=retry.max_retry_after,
            name=name,
        )
