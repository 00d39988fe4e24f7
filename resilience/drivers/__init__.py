"""Drivers: the thin loops that perform a pipeline's steps (call, sleep) in sync or asyncio code."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..pipeline import Pipeline
from ._base import ResultClassifier, http_result_classifier
from .aio import AsyncDriver
from .errors import BreakerOpenError, BudgetExhaustedError, DeadlineExceededError, RequestFailed
from .sync import SyncDriver

__all__ = [
    "AsyncDriver",
    "BreakerOpenError",
    "BudgetExhaustedError",
    "DeadlineExceededError",
    "RequestFailed",
    "ResultClassifier",
    "SyncDriver",
    "http_result_classifier",
    "resilient",
]

F = TypeVar("F", bound=Callable[..., Any])


def resilient(pipeline: Pipeline, **options: Any) -> Callable[[F], F]:
    """Decorate a function (``SyncDriver``) or a coroutine function (``AsyncDriver``).

    ``options`` are the driver's keyword arguments (``pass_timeout``,
    ``idempotent``, ``classify_result`` …).
    """

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            wrapped: Any = AsyncDriver(pipeline, **options).wrap(fn)
        else:
            wrapped = SyncDriver(pipeline, **options).wrap(fn)
        return wrapped  # type: ignore[no-any-return]

    return decorate
