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

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ..clock import Clock, WallClock
from ..deadline import Deadline
from ..events import TraceEvent
from ..pipeline import Pipeline
from ..switches import current
from ._base import DriverOptions, ResultClassifier, scoped_deadline
from .anyio_support import running_clock, running_sleep
from .loop import AsyncStepLoop, driver_site

__all__ = ["AsyncDriver"]

P = ParamSpec("P")
R = TypeVar("R")


class AsyncDriver(DriverOptions):
    """Awaits a coroutine function through ``pipeline``: ``await driver.call(fn, *args)`` or ``@driver.wrap``.

    ``clock`` defaults to the running loop's clock (``loop.time``), ``sleep``
    to ``asyncio.sleep`` (under trio, through anyio: ``anyio.current_time`` and
    ``anyio.sleep``, attempts bounded by an anyio cancel scope). Results, errors and give-up are handled as in
    ``SyncDriver``.
    """

    __slots__ = ("clock", "sleep")

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
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
        pass_timeout = self.pass_timeout
        async for attempt in self.attempts():
            if pass_timeout is not None:  # the attempt's remaining time (None: unbounded)
                kwargs[pass_timeout] = attempt.timeout
            async with attempt:
                attempt.result = await fn(*args, **kwargs)
            if attempt.done:
                break
        return attempt.result  # type: ignore[no-any-return]

    def attempts(self) -> AsyncStepLoop:
        """One request's attempts: ``async for attempt in driver.attempts(): async with attempt: ...``.

        Call it inside the running event loop (its clock is read at once).
        """
        testing = current().clock  # testing mode: its clock, and waits that only advance it
        if self.clock is not None:
            now = self.clock.now
        else:
            now = testing.now if testing is not None else running_clock()
        pipeline = self.pipeline
        ex = pipeline.begin(
            now(),
            scoped_deadline(self.deadline),
            idempotent=self.idempotent,
            idempotency_key=self.idempotency_key,
            trace=self.trace,
        )
        if self.sleep is not None:
            sleep = self.sleep
        else:
            sleep = testing.async_sleep if testing is not None else running_sleep()
        return AsyncStepLoop(ex, now, sleep, driver_site(self))

    def wrap(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        """Decorator form of ``call``."""

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return await self.call(fn, *args, **kwargs)

        return wrapper
