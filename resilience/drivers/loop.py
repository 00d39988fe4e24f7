"""The one step loop: performs an execution's steps for every form (call, decorator, ``for``, ``async for``).

``StepLoop`` is an iterator of attempts: each ``next`` sleeps through any
``Wait`` and hands back the loop itself as the attempt in progress; the
caller runs the attempt inside ``with attempt:`` (``async with`` bounds it by
the attempt's timeout in async code), and the block's exit reports the
outcome. Iteration ends after a success; a give-up raises. The drivers'
``call``, the decorators and the caller objects are this loop with a
function call as the block, so every form makes the same decisions.

Give-ups raise, in the classic form (``wrap=True``), a ``RequestFailed``
with the last exception as ``__cause__``. Otherwise the last exception the
callee raised is re-raised as it was, with a PEP 678 note naming the reason;
``RetriesExhausted`` when the last attempt returned a failed value; a
refusal (``BreakerOpen``, ``BudgetExhausted``, ``DeadlineExceeded``) when no
attempt ran. Cancellation (any ``BaseException`` that is not an
``Exception``) propagates at once and is never retried; any exception
leaving the loop cancels the execution, which settles its leases.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..errors import BreakerOpen, BudgetExhausted, DeadlineExceeded, RequestFailed, RetriesExhausted
from ..execution import Execution
from ..outcome import CANCELLED, SUCCESS, FailureReason, Outcome, OutcomeKind
from ..steps import Attempt, Done, GiveUp, Step, Wait
from ._base import DriverOptions, aclose_failed, close_failed
from .errors import failure
from .exception_outcomes import ExceptionOutcome, classic_outcome
from .retry_events import RetryHook, report_give_up, report_retry

__all__ = ["AsyncStepLoop", "LoopSite", "StepLoop"]

_INF = math.inf
_NOTES = {
    FailureReason.RETRIES_EXHAUSTED: "attempts exhausted",
    FailureReason.DEADLINE_EXCEEDED: "deadline reached",
    FailureReason.BUDGET_EXHAUSTED: "retry budget exhausted",
    FailureReason.BREAKER_OPEN: "breaker open",
    FailureReason.NOT_IDEMPOTENT: "not idempotent, not retried",
    FailureReason.PERMANENT_ERROR: "not retryable",
}


class LoopSite:
    """What every call at one site shares: how outcomes are judged, how give-ups raise, who hears.

    ``outcome_of`` classifies exceptions, ``classify_result`` returned values
    (None: every return is a success); ``wrap``: give up with ``RequestFailed``;
    ``hooks`` hear of retries and give-ups of the function called ``name``;
    ``source`` is the pipeline's name (for isolated errors).
    """

    __slots__ = ("classifier", "classify_result", "hooks", "name", "outcome_of", "source", "wrap")

    def __init__(
        self,
        outcome_of: ExceptionOutcome,
        classify_result: Callable[[Any], Outcome] | None = None,
        wrap: bool = False,
        hooks: tuple[RetryHook, ...] = (),
        name: str = "",
        source: str = "default",
    ) -> None:
        self.outcome_of = outcome_of
        self.classify_result = classify_result
        self.wrap = wrap
        self.hooks = hooks
        self.name = name
        self.source = source
        self.classifier: object = None  # the classifier ``outcome_of`` was built on (driver sites)


def driver_site(driver: DriverOptions) -> LoopSite:
    """The site every call through ``driver`` shares, built once per driver (and per classifier)."""
    site: LoopSite | None = driver._site
    pipeline = driver.pipeline
    classifier = pipeline.classifier
    if site is None or site.classifier is not classifier:
        outcome_of = classic_outcome(classifier, driver.wall, ours=driver.pass_timeout is not None)
        site = LoopSite(outcome_of, driver.classify_result, True, (), "", pipeline.name)
        site.classifier = classifier
        driver._site = site
    return site


def resumed_loop(
    execution: Execution, now: Callable[[], float], sleep: Callable[[float], Any], site: LoopSite, step: Step
) -> StepLoop:
    """The sync loop of a request whose driver made its first step itself: ``step``, as handed out."""
    loop = StepLoop(execution, now, sleep, site)
    loop._step = step
    return loop


class _Loop:
    """The state of one request between its steps, shared by the sync and async loops."""

    __slots__ = ("_error", "_ex", "_now", "_site", "_sleep", "_step", "done", "result")

    def __init__(
        self, execution: Execution, now: Callable[[], float], sleep: Callable[[float], Any], site: LoopSite
    ) -> None:
        """``sleep`` waits (awaited by the async loop); ``site`` holds what the calls share."""
        self._ex = execution
        self._now = now
        self._sleep = sleep
        self._site = site
        self._step: Step | None = None
        self._error: BaseException | None = None
        self.result: Any = None
        self.done = False

    @property
    def name(self) -> str:
        """The qualified name of the function called (or the site's name)."""
        return self._site.name

    @property
    def number(self) -> int:
        """The number of the attempt in progress (1 for the first)."""
        return self._ex.attempts

    @property
    def timeout(self) -> float | None:
        """Seconds the attempt in progress may take (None: unbounded); hand it to the callee."""
        step = self._step
        return step.timeout if type(step) is Attempt and step.timeout != _INF else None

    def elapsed(self) -> float:
        """Seconds since the call began."""
        return self._now() - self._ex.started_at

    @property
    def execution(self) -> Execution:
        """The sans-I/O execution this loop performs."""
        return self._ex

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        """The attempt ended: with ``exc``, or with ``self.result``. True: ``exc`` is retried."""
        if exc is None and self._site.classify_result is None and type(self._step) is Attempt:  # a success
            ex = self._ex
            try:
                self._step = ex.next(self._now(), SUCCESS)  # always Done
            except BaseException:
                ex.cancel(self._now())
                raise
            self.done = True
            return False
        return self._report(exc)

    def _report(self, exc: BaseException | None, expired: bool = False) -> bool:
        """Report the attempt's end (``exc`` or ``self.result``); True to suppress ``exc`` and retry."""
        ex = self._ex
        step = self._step
        assert type(step) is Attempt, "report an attempt inside `with attempt:`"
        try:
            if exc is None:
                self._error = None
                classify = self._site.classify_result
                outcome = SUCCESS if classify is None else classify(self.result)
            else:
                self.result, self._error = None, exc
                if not isinstance(exc, Exception):
                    outcome = CANCELLED
                else:
                    outcome = self._site.outcome_of(exc, step, expired)
                    if outcome.kind is OutcomeKind.CANCELLED:
                        raise exc
                if outcome is CANCELLED:
                    raise exc
            self._step = nxt = ex.next(self._now(), outcome)
        except BaseException:
            ex.cancel(self._now())  # settles whatever the execution still holds
            raise
        if type(nxt) is Done:
            self.done = True
            return False
        if type(nxt) is Wait:
            hooks = self._site.hooks
            if hooks:
                report_retry(hooks, self, nxt, exc)
            return exc is not None
        assert isinstance(nxt, GiveUp)
        error = self._give_up(nxt)
        if error is exc:
            return False  # the original exception goes on, its traceback intact
        raise error from self._error

    def _give_up(self, step: GiveUp) -> BaseException:
        """The exception that ends the request at ``step`` (the last one raised, noted, if any)."""
        ex, error = self._ex, self._error
        site = self._site
        if site.hooks:
            report_give_up(site.hooks, self, step, error)
        if site.wrap:
            return failure(step, ex.attempts, self.result)
        reason = step.reason
        if error is not None:
            if reason is not FailureReason.PERMANENT_ERROR or ex.attempts > 1:
                elapsed = self._now() - ex.started_at
                error.add_note(
                    f"resilience: gave up on {self.name or 'the call'} after {ex.attempts} attempt(s)"
                    f" in {elapsed:.3g} s: {_NOTES.get(reason, reason.value)}"
                )
            return error
        if ex.attempts == 0:
            if reason is FailureReason.BREAKER_OPEN:
                return BreakerOpen(reason, step.last, 0, None, step.retry_after)
            if reason is FailureReason.BUDGET_EXHAUSTED:
                return BudgetExhausted(reason, step.last, 0)
            if reason is FailureReason.DEADLINE_EXCEEDED:
                return DeadlineExceeded(reason, step.last, 0)
            return RequestFailed(reason, step.last, 0)
        return RetriesExhausted(reason, step.last, ex.attempts, self.result)


class StepLoop(_Loop):
    """Sync form: ``for attempt in loop: with attempt: ...``; sleeps with ``sleep``."""

    __slots__ = ()

    def __iter__(self) -> StepLoop:
        return self

    def __next__(self) -> StepLoop:
        step = self._step
        try:
            if step is None:
                step = self._ex.next(self._now())
            elif type(step) is Attempt:  # handed out but never reported
                raise RuntimeError("run each attempt inside `with attempt:`")
            while type(step) is Wait:
                if self.result is not None:  # classified as a failure and not handed back
                    close_failed(self.result, self._site.source)
                    self.result = None
                self._sleep(step.delay)
                step = self._ex.next(self._now())
        except BaseException:
            self._ex.cancel(self._now())
            raise
        self._step = step
        if type(step) is Attempt:
            return self
        if type(step) is Done:
            raise StopIteration
        assert isinstance(step, GiveUp)
        error = self._give_up(step)
        if error is self._error:
            raise error
        raise error from self._error

    def call(
        self, fn: Callable[..., Any], args: Any, kwargs: dict[str, Any], pass_timeout: str | None
    ) -> Any:
        """The call forms: ``fn(*args, **kwargs)`` as the block of every attempt; its result or the give-up.

        Exactly ``for attempt in loop: with attempt: attempt.result = fn(...)``,
        without the iterator and context-manager protocol on the success path.
        """
        ex, now = self._ex, self._now
        fast = self._site.classify_result is None  # every return is a success
        while True:
            self.__next__()  # the next attempt (after any wait), or the give-up raised
            if pass_timeout is not None:  # the attempt's remaining time (None: unbounded)
                kwargs[pass_timeout] = self.timeout
            try:
                self.result = result = fn(*args, **kwargs)
            except BaseException as exc:
                if not self._report(exc):
                    raise  # the original exception goes on, its traceback intact
                continue
            if fast:  # ``__exit__``'s success branch, inlined
                try:
                    self._step = ex.next(now(), SUCCESS)  # always Done
                except BaseException:
                    ex.cancel(now())
                    raise
                self.done = True
                return result
            self.__exit__(None, None, None)
            if self.done:
                return self.result

    def __enter__(self) -> StepLoop:
        return self


class AsyncStepLoop(_Loop):
    """Async form: ``async for attempt in loop: async with attempt: ...``.

    ``async with`` bounds the attempt by its timeout (``asyncio.timeout``, or
    an anyio cancel scope under trio); a plain ``with`` leaves the bound to
    the callee. ``now`` and ``sleep`` default to the running event loop's.
    """

    __slots__ = ("_bound",)

    def __aiter__(self) -> AsyncStepLoop:
        return self

    async def __anext__(self) -> AsyncStepLoop:
        step = self._step
        try:
            if step is None:
                step = self._ex.next(self._now())
            elif type(step) is Attempt:  # handed out but never reported
                raise RuntimeError("run each attempt inside `with attempt:`")
            while type(step) is Wait:
                if self.result is not None:
                    await aclose_failed(self.result, self._site.source)
                    self.result = None
                await self._sleep(step.delay)
                step = self._ex.next(self._now())
        except BaseException:
            self._ex.cancel(self._now())
            raise
        self._step = step
        if type(step) is Attempt:
            return self
        if type(step) is Done:
            raise StopAsyncIteration
        assert isinstance(step, GiveUp)
        error = self._give_up(step)
        if error is self._error:
            raise error
        raise error from self._error

    def __enter__(self) -> AsyncStepLoop:
        return self

    async def __aenter__(self) -> AsyncStepLoop:
        step = self._step
        timeout = None if type(step) is not Attempt or step.timeout == _INF else step.timeout
        bound = self._bound = attempt_bound(timeout)
        await bound.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        bound, self._bound = self._bound, None
        try:
            await bound.__aexit__(exc_type, exc, tb)
        except TimeoutError as fired:
            if not bound.expired() or not self._report(fired, True):
                raise
            return True
        return self._report(exc, exc is not None and bound.expired() and isinstance(exc, TimeoutError))


def attempt_bound(timeout: float | None) -> Any:
    """An async context manager bounding an attempt: ``asyncio.timeout`` on asyncio, anyio's under trio."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        from .anyio_support import AnyioBound

        return AnyioBound(timeout)
    return asyncio.timeout(timeout)
