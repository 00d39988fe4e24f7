"""Drivers: the thin loops that perform a pipeline's steps (call, sleep) in sync or asyncio code."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, Unpack

from ..pipeline import Pipeline
from ._base import DriverKeywords, ResultClassifier, http_result_classifier
from .aio import AsyncDriver
from .errors import BreakerOpenError, BudgetExhaustedError, DeadlineExceededError, RequestFailed
from .sync import SyncDriver

__all__ = [
    "AsyncDriver",
    "BreakerOpenError",
    "BudgetExhaustedError",
    "DeadlineExceededError",
    "DriverKeywords",
    "RequestFailed",
    "ResultClassifier",
    "SyncDriver",
    "http_result_classifier",
    "resilient",
]

F = TypeVar("F", bound=Callable[..., Any])


def resilient(pipeline: Pipeline, **options: Unpack[DriverKeywords]) -> Callable[[F], F]:
    """Decorate a function (``SyncDriver``) or a coroutine function (``AsyncDriver``).

    ``options`` are the drivers' common keyword arguments (``pass_timeout``,
    ``idempotent``, ``classify_result`` …; see ``DriverKeywords``).
    """

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            wrapped: Any = AsyncDriver(pipeline, **options).wrap(fn)
        else:
            wrapped = SyncDriver(pipeline, **options).wrap(fn)
        return wrapped  # type: ignore[no-any-return]

    return decorate
