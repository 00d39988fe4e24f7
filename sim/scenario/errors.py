"""The evidence a service answers with instead of success (``ErrorSpec``): a service's own errors, an
error burst's."""

from __future__ import annotations

from dataclasses import dataclass, field

from resilience._config import Config, non_negative, rule

__all__ = ["ErrorSpec"]


def _sqlstate(v: str) -> bool:
    return len(v) == 5 and v.isalnum()


@dataclass(frozen=True, slots=True)
class ErrorSpec(Config):
    """Evidence a service returns instead of success, with ``probability`` per call.

    Exactly one of ``status`` (HTTP, with optional ``retry_after`` seconds),
    ``sqlstate`` or ``refuse`` (connection refused, answered on arrival). With
    ``fast`` the status/SQLSTATE is answered on arrival instead of after service.
    """

    probability: float = field(default=0.0, metadata=rule(lambda v: 0 <= v <= 1, "must be in [0, 1]"))
    status: int | None = field(default=None, metadata=rule(lambda v: 100 <= v <= 599, "must be in 100..599"))
    retry_after: float | None = field(default=None, metadata=rule(non_negative, "must be >= 0 and finite"))
    sqlstate: str | None = field(default=None, metadata=rule(_sqlstate, "must be a 5-character SQLSTATE"))
    refuse: bool = False
    fast: bool = False

    def _cross_checks(self) -> None:
        chosen = (self.status is not None) + (self.sqlstate is not None) + self.refuse
        if chosen != 1:
            raise self._error("status", "exactly one of status, sqlstate, refuse must be set")
        if self.retry_after is not None and self.status is None:
            raise self._error("retry_after", "needs status")
