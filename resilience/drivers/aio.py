"""The asyncio driver: runs a pipeline's decisions around a coroutine.

Each attempt runs under ``asyncio.timeout(step.timeout)``; when that bound
fires the attempt's outcome is a timeout with the step's phase (``attempt``
for the per-attempt timeout, ``deadline`` when the request's deadline is the
nearer bound). Cancellation from outside (``task.cancel()``) propagates at
once and is never retried. Any exception leaving the loop (cancellation, a
raising result classifier or classifier, an interrupted sleep) cancels the
execution, which settles its breaker permit and budget grant. Failed results
are closed as in ``SyncDriver`` (``aclose()`` awaited when present). The
driver starts no tasks of its own.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ..clock import Clock, WallClock
from ..deadline import Deadline
from ..events import TraceEvent
from ..outcome import SUCCESS, Outcome, OutcomeKind
from ..pipeline import Pipeline
from ..steps import Attempt, Done, GiveUp, Wait
from ._base import DriverOptions, ResultClassifier, aclose_failed, exception_outcome, scoped_deadline
from .errors import failure

__all__ = ["AsyncDriver"]

P = ParamSpec("P")
R = TypeVar("R")

_CANCELLATION = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)
_INF = math.inf


class AsyncDriver(DriverOptions):
    """Awaits a coroutine function through ``pipeline``: ``await driver.call(fn, *args)`` or ``@driver.wrap``.

    ``clock`` defaults to the running loop's clock (``loop.time``), ``sleep``
    to ``asyncio.sleep``. Results, errors and give-up are handled as in
    ``SyncDriver``.
    """

    __slots__ = ("clock", "sleep")

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        wall: WallClock | None = None,
        classify_result: ResultClassifier | None = None,
        pass_timeout: str | None = None,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        deadline: Deadline | None = None,
        trace: list[TraceEvent] | None = None,
    ) -> None:
        super().__init__(
            pipeline,
            wall=wall,
            classify_result=classify_result,
            pass_timeout=pass_timeout,
            idempotent=idempotent,
            idempotency_key=idempotency_key,
            deadline=deadline,
            trace=trace,
        )
        self.clock = clock
        self.sleep = sleep

    async def call(self, fn: Callable[P, Coroutine[Any, Any, R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` with retries; return its result or raise ``RequestFailed``."""
        now = self.clock.now if self.clock is not None else asyncio.get_running_loop().time
        pipeline = self.pipeline
        ex = pipeline.begin(
            now(),
            scoped_deadline(self.deadline),
            idempotent=self.idempotent,
            idempotency_key=self.idempotency_key,
            trace=self.trace,
        )
        pass_timeout = self.pass_timeout
        classify = self.classify_result
        result: Any = None
        error: BaseException | None = None
        try:
            step = ex.next(now())
            while True:
                if type(step) is Attempt:
                    if pass_timeout is not None:  # the attempt's remaining time (None: unbounded)
                        kwargs[pass_timeout] = None if step.timeout == _INF else step.timeout
                    bound = asyncio.timeout(None if step.timeout == _INF else step.timeout)
                    outcome: Outcome
                    try:
                        async with bound:
                            result = await fn(*args, **kwargs)
                    except _CANCELLATION:
                        raise
                    except BaseException as exc:
                        result, error = None, exc
                        if bound.expired() and isinstance(exc, TimeoutError):
                            outcome = Outcome.timeout(step.phase) if step.phase else Outcome.timeout()
                        else:
                            outcome = exception_outcome(
                                pipeline.classifier,
                                exc,
                                step,
                                ours=pass_timeout is not None,
                                wall_now=self.wall.wall(),
                            )
                            if outcome.kind is OutcomeKind.CANCELLED:
                                raise
                    else:
                        error = None
                        outcome = SUCCESS if classify is None else classify(result)
                    step = ex.next(now(), outcome)
                elif type(step) is Wait:
                    if result is not None:  # classified as a failure and not handed back
                        await aclose_failed(result, pipeline.name)
                        result = None
                    await self.sleep(step.delay)
                    step = ex.next(now())
                elif type(step) is Done:
                    return result  # type: ignore[no-any-return]
                else:
                    break
        except BaseException:
            ex.cancel(now())  # settles whatever the execution still holds
            raise
        assert isinstance(step, GiveUp)
        raise failure(step, ex.attempts, result) from error

    def wrap(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        """Decorator form of ``call``."""

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return await self.call(fn, *args, **kwargs)

        return wrapper
