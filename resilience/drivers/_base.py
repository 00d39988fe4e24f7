"""What the sync and asyncio drivers share: per-call options and outcome helpers."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any, Self

from ..classify import Classifier
from ..clock import SystemWallClock, WallClock
from ..deadline import Deadline
from ..events import TraceEvent
from ..outcome import Outcome
from ..pipeline import Pipeline
from ..steps import Attempt

__all__ = ["DriverOptions", "ResultClassifier", "exception_outcome", "http_result_classifier"]

ResultClassifier = Callable[[Any], Outcome]
"""Maps a returned value (e.g. an HTTP response) to the attempt's ``Outcome``."""
"""Maps a returned value to an outcome (e.g. an HTTP response with a 5xx status to an error)."""

_OPTIONS = frozenset(
    {"classify_result", "pass_timeout", "idempotent", "idempotency_key", "deadline", "trace", "wall"}
)


class DriverOptions:
    """Options common to both drivers; ``options(**changes)`` returns a changed copy.

    ``pass_timeout`` names the keyword through which each attempt receives its
    remaining time (``None`` when unbounded); it replaces a value the caller
    passed under that name. ``trace``, when given, collects the decision events
    of every call made through this driver (give each request its own with
    ``options(trace=[])``; the pipeline's listeners see every event anyway).
    """

    __slots__ = (
        "classify_result",
        "deadline",
        "idempotency_key",
        "idempotent",
        "pass_timeout",
        "pipeline",
        "trace",
        "wall",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        wall: WallClock | None,
        classify_result: ResultClassifier | None,
        pass_timeout: str | None,
        idempotent: bool,
        idempotency_key: str | None,
        deadline: Deadline | None,
        trace: list[TraceEvent] | None,
    ) -> None:
        self.pipeline = pipeline
        self.wall: WallClock = wall if wall is not None else SystemWallClock()
        self.classify_result = classify_result
        self.pass_timeout = pass_timeout
        self.idempotent = idempotent
        self.idempotency_key = idempotency_key
        self.deadline = deadline
        self.trace = trace

    def options(self, **changes: Any) -> Self:
        """A copy of this driver with some per-call options changed.

        Accepted: ``classify_result``, ``pass_timeout``, ``idempotent``,
        ``idempotency_key``, ``deadline``, ``trace``, ``wall``.
        """
        unknown = set(changes) - _OPTIONS
        if unknown:
            raise TypeError(f"{type(self).__name__}.options: unknown option(s) {sorted(unknown)}")
        new = copy.copy(self)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    def _timeout_kwarg(self, kwargs: dict[str, Any], step: Attempt) -> None:
        """Hand the attempt's remaining time to the callee (None: unbounded)."""
        if self.pass_timeout is not None:
            kwargs[self.pass_timeout] = None if step.timeout == math.inf else step.timeout

    def _result_outcome(self, result: Any) -> Outcome:
        classify = self.classify_result
        return Outcome.success() if classify is None else classify(result)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)


def exception_outcome(
    classifier: Classifier, exc: BaseException, step: Attempt, *, ours: bool, wall_now: float
) -> Outcome:
    """Classify ``exc`` raised by an attempt.

    When ``ours`` (the driver bounded the attempt or handed its timeout to the
    callee) a timeout is attributed to the step's bound (attempt or deadline).
    """
    if ours and step.phase is not None and _is_timeout(exc):
        return Outcome.timeout(step.phase)
    return classifier.exception(exc, wall_now=wall_now)


def _status(result: Any) -> int | None:
    for attr in ("status", "status_code", "code"):
        value = getattr(result, attr, None)
        if isinstance(value, int):
            return value
    return None


def http_result_classifier(
    classifier: Classifier | None = None, *, wall: WallClock | None = None
) -> ResultClassifier:
    """A result classifier for HTTP responses with ``status`` (or ``status_code``) and ``headers``.

    Retry-After given as an HTTP-date is read against ``wall`` (the system
    clock by default).
    """
    cls = classifier or Classifier()
    clock = wall if wall is not None else SystemWallClock()

    def classify(result: Any) -> Outcome:
        status = _status(result)
        if status is None:
            return Outcome.success()
        headers = getattr(result, "headers", None)
        if headers is not None and not (isinstance(headers, Mapping) or hasattr(headers, "get")):
            headers = None
        return cls.http(status, headers, wall_now=clock.wall())

    return classify
