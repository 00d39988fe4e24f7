"""What the sync and asyncio drivers share: per-call options and outcome helpers."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Self, TypedDict, Unpack

from ..classify import Classifier
from ..clock import Clock, SystemWallClock, WallClock
from ..deadline import Deadline, current_deadline
from ..events import TraceEvent
from ..hooks import report_hook_error
from ..outcome import Outcome
from ..pipeline import Pipeline
from ..steps import Attempt

__all__ = [
    "DriverChanges",
    "DriverKeywords",
    "DriverOptions",
    "ResultClassifier",
    "aclose_failed",
    "close_failed",
    "exception_outcome",
    "http_result_classifier",
    "scoped_deadline",
]

ResultClassifier = Callable[[Any], Outcome]
"""Maps a returned value (e.g. an HTTP response) to the attempt's ``Outcome``."""
"""Maps a returned value to an outcome (e.g. an HTTP response with a 5xx status to an error)."""


class DriverChanges(TypedDict, total=False):
    """The per-call options ``DriverOptions.options`` may change."""

    classify_result: ResultClassifier | None
    pass_timeout: str | None
    idempotent: bool
    idempotency_key: str | None
    deadline: Deadline | None
    trace: list[TraceEvent] | None
    wall: WallClock | None


class DriverKeywords(DriverChanges, total=False):
    """The keywords both drivers accept (``resilient`` passes them on)."""

    clock: Clock | None


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
        "_site",
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
        self._site: Any = None  # the loop site the driver builds once (drivers/loop.py)

    def options(self, **changes: Unpack[DriverChanges]) -> Self:
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
        new._site = None
        return new


def scoped_deadline(deadline: Deadline | None) -> Deadline | None:
    """The earlier of ``deadline`` and the enclosing ``deadline_scope`` (the drivers' ambient input)."""
    scope = current_deadline()
    if scope is None or (deadline is not None and deadline.expires_at <= scope.expires_at):
        return deadline
    return scope


def _closer(result: Any, name: str) -> tuple[Callable[[], Any] | None, Any]:
    """The bound closing method ``name`` of ``result`` and the function that reports its errors."""
    method = getattr(result, name, None)
    if not callable(method):
        return None, None
    return method, getattr(type(result), name, method)


def close_failed(result: Any, source: str) -> None:
    """Close a result classified as a failure that will not be handed back (if it has ``close()``).

    An error from ``close`` is isolated and reported like a listener's.
    """
    close, hook = _closer(result, "close")
    if close is not None:
        try:
            close()
        except Exception as exc:
            report_hook_error(source, hook, exc)


async def aclose_failed(result: Any, source: str) -> None:
    """``close_failed`` for asyncio: ``aclose()`` is awaited when present, else ``close()`` (awaited if it
    returns an awaitable)."""
    close, hook = _closer(result, "aclose")
    if close is None:
        close, hook = _closer(result, "close")
    if close is not None:
        try:
            done = close()
            if inspect.isawaitable(done):
                await done
        except Exception as exc:
            report_hook_error(source, hook, exc)


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
