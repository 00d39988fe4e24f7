"""The sync driver: runs a pipeline's decisions around a blocking call.

The loop only asks the execution for the next step, performs it (call or
sleep) and reports the outcome; every decision lives in ``Execution``.

The per-attempt timeout is **cooperative** in sync code: a thread cannot be
interrupted safely, so the driver hands the attempt's remaining time to the
callee through the keyword named by ``pass_timeout`` (e.g. ``"timeout"``, used
as a socket timeout) and enforces the bounds between attempts: no attempt
starts after the deadline, and no wait is taken that would outlast it. A
callee that ignores the time it was handed runs over it.

Cancellation (``KeyboardInterrupt``, ``SystemExit``) propagates unchanged and
is never retried. Any exception leaving the loop (cancellation, a raising
result classifier or classifier, an interrupted sleep) cancels the execution,
which settles its breaker permit and budget grant. A returned value classified
as a failure is closed (``close()``) before the retry, unless it is the last
one, handed back on the ``RequestFailed``. The enclosing ``deadline_scope`` is
read here and passed to the pipeline. A driver holds no per-call state, so
one driver may serve many threads.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ..clock import Clock, WallClock
from ..deadline import Deadline, current_deadline
from ..events import TraceEvent
from ..execution import Execution
from ..outcome import SUCCESS
from ..pipeline import Pipeline
from ..steps import Attempt
from ..switches import DefaultClock, current, default_sleep
from ._base import DriverOptions, ResultClassifier, scoped_deadline
from .loop import StepLoop, driver_site, resumed_loop

__all__ = ["SyncDriver"]

_INF = math.inf
_monotonic = time.monotonic
P = ParamSpec("P")
R = TypeVar("R")


class SyncDriver(DriverOptions):
    """Calls a function through ``pipeline``: ``driver.call(fn, *args)`` or ``@driver.wrap``.

    ``clock`` (monotonic; testing mode's clock while it is on) times the decisions, ``sleep`` waits
    (testing mode: advances its clock instead), ``wall`` reads
    Retry-After dates. ``classify_result`` maps a returned value to an outcome
    (default: any return is a success); exceptions go through the pipeline's
    classifier. On give-up a ``RequestFailed`` (or a subclass) is raised with
    the last exception as its ``__cause__``.
    """

    __slots__ = ("clock", "sleep")

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], object] = default_sleep,
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
        self.clock: Clock = clock if clock is not None else DefaultClock()
        self.sleep = sleep

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` with retries; return its result or raise ``RequestFailed``.

        Exactly ``self.attempts().call(...)``; the first attempt runs here, and
        the step loop is built only when it is not a plain success.
        """
        clock = self.clock  # ``_now`` and ``_begin``, inlined
        if type(clock) is DefaultClock:
            testing = current().clock
            now = _monotonic if testing is None else testing.now
        else:
            now = clock.now
        deadline, scope = self.deadline, current_deadline()
        if scope is not None and (deadline is None or scope.expires_at < deadline.expires_at):
            deadline = scope
        ex = self.pipeline.begin(
            now(),
            deadline,
            idempotent=self.idempotent,
            idempotency_key=self.idempotency_key,
            trace=self.trace,
        )
        try:
            step = ex.next(now())
        except BaseException:
            ex.cancel(now())
            raise
        if type(step) is not Attempt:  # refused before any attempt: the loop raises the give-up
            first = resumed_loop(ex, now, self.sleep, driver_site(self), step)
            return first.call(fn, args, kwargs, self.pass_timeout)  # type: ignore[no-any-return]
        pass_timeout = self.pass_timeout
        if pass_timeout is not None:  # the attempt's remaining time (None: unbounded)
            kwargs[pass_timeout] = None if step.timeout == _INF else step.timeout
        loop: StepLoop | None = None
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            loop = resumed_loop(ex, now, self.sleep, driver_site(self), step)
            if not loop._report(exc):
                raise  # the original exception goes on, its traceback intact
        if loop is None:
            if self.classify_result is None:  # every return is a success
                try:
                    ex.next(now(), SUCCESS)  # always Done
                except BaseException:
                    ex.cancel(now())
                    raise
                return result
            loop = resumed_loop(ex, now, self.sleep, driver_site(self), step)
            loop.result = result
            loop.__exit__(None, None, None)
            if loop.done:
                return result
        return loop.call(fn, args, kwargs, pass_timeout)  # type: ignore[no-any-return]

    def attempts(self) -> StepLoop:
        """One request's attempts: ``for attempt in driver.attempts(): with attempt: ...``."""
        now = self._now()
        return StepLoop(self._begin(now), now, self.sleep, driver_site(self))

    def _now(self) -> Callable[[], float]:
        """The clock function one request reads (the default clock resolved once per request)."""
        clock = self.clock
        if type(clock) is DefaultClock:
            testing = current().clock
            return _monotonic if testing is None else testing.now
        return clock.now

    def _begin(self, now: Callable[[], float]) -> Execution:
        """Begin one request at ``now()`` under the driver's deadline and the enclosing scope."""
        return self.pipeline.begin(
            now(),
            scoped_deadline(self.deadline),
            idempotent=self.idempotent,
            idempotency_key=self.idempotency_key,
            trace=self.trace,
        )

    def wrap(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorator form of ``call``."""

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.call(fn, *args, **kwargs)

        return wrapper
