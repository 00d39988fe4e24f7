"""The small interfaces between model parts: what a service sees of a call, what a client sees of a
service, and where a client group reports its per-second counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sim.model.calls import Op, Stage
from sim.scenario.spec import ErrorSpec

__all__ = ["CallTarget", "GroupTally", "ServiceCall"]


class ServiceCall(Protocol):
    """A call as a service handles it: its operation, its stage, and how to answer it."""

    op: Op
    stage: Stage
    error: ErrorSpec | None
    version: int
    svc_arrival: float
    svc_start: float
    deadline: float  # when the caller stops waiting for this call (inf: never)

    def respond(self, code: Any, now: float) -> None:
        """Answer the call at ``now`` (``code`` None for success, else the evidence)."""

    def served(self, _ev: object) -> None:
        """The call's service time is over (a timer callback)."""


class CallTarget(Protocol):
    """A service as a client sends to it."""

    cancel_on_timeout: bool

    def arrive(self, c: ServiceCall, now: float) -> None:
        """``c`` reaches the service at ``now``."""

    def finish(self, c: ServiceCall) -> None:
        """``c``'s service time is over."""

    def cancel(self, c: ServiceCall) -> None:
        """The caller gave up on ``c``."""


class GroupTally(Protocol):
    """Where a client group counts its requests per second, and the latency bucket bounds it uses."""

    @property
    def buckets(self) -> Sequence[float]:
        """Upper bounds of the request-latency histogram buckets."""

    @property
    def offered_s(self) -> list[int]:
        """Requests offered, per arrival second."""

    @property
    def good_s(self) -> list[int]:
        """Requests answered within the SLO, per arrival second."""
