"""``@resilience.retry``, ``resilience.attempts`` and the retrying callers: one-line retries.

Every form is the drivers' step loop over a ``Pipeline`` built from the
options (no second retry loop). Defaults: 10 attempts, a 45 s overall
timeout, waits from 0.1 s doubling up to 5 s with full jitter.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypedDict, TypeVar, Unpack

from .backoff import Backoff, ConstantBackoff, ExponentialBackoff, FullJitter
from .breaker import CircuitBreaker
from .breaking import front_clock, shared_breaker
from .classify import Classifier
from .clock import Clock, ManualClock, SystemWallClock, WallClock
from .deadline import current_deadline
from .drivers.anyio_support import running_clock, running_sleep
from .drivers.exception_outcomes import On, narrowed_outcome
from .drivers.loop import AsyncStepLoop, LoopSite, StepLoop
from .events import Listener
from .instrumentation import current_hooks
from .outcome import SUCCESS, Outcome
from .pipeline import Pipeline
from .protocols import BreakerLike, BudgetLike
from .retry import RetryConfig
from .rng import RandomSource
from .switches import Mode, current

__all__ = [
    "ATTEMPTS",
    "TIMEOUT",
    "WAIT",
    "AsyncRetryingCaller",
    "Attempts",
    "RetryOptions",
    "Retrying",
    "RetryingCaller",
    "attempts",
    "retry",
]

P = ParamSpec("P")
R = TypeVar("R")

ATTEMPTS = 10
"""Attempts per call by default (the first call counts)."""
TIMEOUT = 45.0
"""Overall seconds per call by default (a deadline across attempts and waits)."""
WAIT = ExponentialBackoff(base=0.1, multiplier=2.0, cap=5.0, jitter=FullJitter())
"""The default wait: 0.1 s doubling up to 5 s, full jitter."""


class RetryOptions(TypedDict, total=False):
    """Options of ``retry``, ``attempts`` and the retrying callers; each is checked by type checkers.

    ``attempts`` (10), ``timeout`` overall seconds (45; None: none),
    ``wait`` a backoff or constant seconds, ``attempt_timeout`` per attempt,
    ``on_result`` judges a returned value (falsy: success, True: retry,
    seconds: retry after them, or an ``Outcome``), ``breaker`` a shared breaker's name or a
    breaker, ``budget`` a retry budget, ``classifier``, ``idempotent``,
    ``wrap`` (raise ``RequestFailed`` on give-up, the drivers' way),
    ``name`` (events and metrics; default the function's qualified name),
    ``rng`` (jitter), ``listeners`` (decision events), ``pass_timeout`` (the
    keyword that hands each attempt its time left), ``clock`` (default:
    monotonic, or the testing clock), ``max_retry_after`` (clamp for hints).
    """

    attempts: int
    timeout: float | None
    wait: Backoff | float
    attempt_timeout: float | None
    on_result: OnResult | None
    breaker: str | BreakerLike | None
    budget: BudgetLike | None
    classifier: Classifier | None
    idempotent: bool
    wrap: bool
    name: str | None
    rng: RandomSource | None
    listeners: Iterable[Listener]
    pass_timeout: str | None
    clock: Clock | None
    max_retry_after: float


OnResult = Callable[[Any], bool | float | Outcome | None]
"""Judges a returned value: falsy means success, True retry, seconds retry after them, or an ``Outcome``
(e.g. ``resilience.core`` ``http_result_classifier``: the classifier decides, Retry-After included)."""


def _result_classifier(on_result: OnResult) -> Callable[[Any], Outcome]:
    def classify(value: Any) -> Outcome:
        verdict = on_result(value)
        if isinstance(verdict, Outcome):
            return verdict
        if verdict is None or verdict is False:
            return SUCCESS
        if verdict is True:
            return Outcome.error("result", retryable=True)
        return Outcome.error("result", retryable=True, retry_after=float(verdict))

    return classify


class _Policy:
    """The resolved options of one retry site; builds the step loop of each call."""

    __slots__ = (
        "_breaker",
        "_breaker_name",
        "_classify",
        "_clock",
        "_idempotent",
        "_mode",
        "_options",
        "_outcome_of",
        "_pipeline",
        "_site",
        "_sleep",
        "_wall",
        "_wrap",
        "block",
        "name",
        "on",
        "rng",
    )

    def __init__(
        self, on: On, options: RetryOptions, name: str | None = None, *, block: bool = False
    ) -> None:
        self.on = on
        self.block = block  # the attempt's timeout is offered to a block (``attempt.timeout``)
        self._options = options
        self.name = options.get("name") or name or "retry"
        rng = options.get("rng")
        self.rng: RandomSource = rng if rng is not None else random.Random()
        on_result = options.get("on_result")
        self._classify = None if on_result is None else _result_classifier(on_result)
        self._mode: Mode | None = None
        self._breaker: BreakerLike | None = None
        self._refresh(current())

    def named(self, name: str) -> _Policy:
        """This policy for a function called ``name`` (unless a name was given)."""
        return _Policy(self.on, self._options, name)

    def _refresh(self, mode: Mode) -> None:
        o = self._options
        wait = o.get("wait", WAIT)
        backoff = wait if isinstance(wait, Backoff) else ConstantBackoff(base=float(wait))
        attempts = mode.attempts_for(o.get("attempts", ATTEMPTS)) if mode.active else 1
        config = RetryConfig(
            max_attempts=attempts,
            attempt_timeout=o.get("attempt_timeout"),
            timeout=o.get("timeout", TIMEOUT),
            backoff=backoff,
            max_retry_after=o.get("max_retry_after", 60.0),
        )
        breaker = o.get("breaker")
        self._breaker_name = breaker if isinstance(breaker, str) and mode.active else None
        self._breaker = None if not mode.active or isinstance(breaker, str) else breaker
        self._idempotent = o.get("idempotent", True)
        self._wrap = o.get("wrap", False)
        self._pipeline = Pipeline(
            config,
            breaker=self._breaker,
            budget=o.get("budget"),
            classifier=o.get("classifier"),
            rng=self.rng,
            listeners=o.get("listeners", ()),
            name=self.name,
        )
        clock = front_clock(o.get("clock"))
        self._clock = clock
        self._wall: WallClock = clock if isinstance(clock, ManualClock) else SystemWallClock()
        self._sleep: Callable[[float], object] = clock.sleep if isinstance(clock, ManualClock) else time.sleep
        self._outcome_of = narrowed_outcome(
            self._pipeline.classifier,
            self._wall,
            self.on,
            ours=self.block or o.get("pass_timeout") is not None,
        )
        self._site: LoopSite | None = None
        self._mode = mode

    def _site_for(self, name: str) -> LoopSite:
        hooks = current_hooks()
        site = self._site
        if site is None or site.hooks is not hooks or site.name != name:
            site = LoopSite(self._outcome_of, self._classify, self._wrap, hooks, name, self.name)
            if name == self.name:
                self._site = site
        return site

    def _current(self) -> None:
        mode = current()
        if mode is not self._mode:
            self._refresh(mode)

    def _begin(self, now: float) -> Pipeline:
        name = self._breaker_name
        if name is not None:
            b = shared_breaker(name, now)
            if b is not self._breaker:
                self._use_breaker(b)
        return self._pipeline

    def _use_breaker(self, b: CircuitBreaker) -> None:
        p = self._pipeline
        self._breaker = b
        self._pipeline = Pipeline(
            p.retry,
            breaker=b,
            budget=p.budget,
            classifier=p.classifier,
            rng=p.rng,
            listeners=p.listeners,
            name=p.name,
        )

    def sync_loop(self, name: str) -> StepLoop:
        """The attempts of one sync call of the function called ``name``."""
        if current() is not self._mode:
            self._refresh(current())
        now = self._clock.now
        t = now()
        pipeline = self._pipeline if self._breaker_name is None else self._begin(t)
        ex = pipeline.begin(t, current_deadline(), idempotent=self._idempotent)
        return StepLoop(ex, now, self._sleep, self._site_for(name))

    def async_loop(self, name: str) -> AsyncStepLoop:
        """The attempts of one async call (inside the running event loop)."""
        self._current()
        clock = self._clock
        sleep: Callable[[float], Awaitable[object]]
        if isinstance(clock, ManualClock):
            now, sleep = clock.now, _manual_async_sleep(clock)
        elif "clock" in self._options and self._options["clock"] is not None:
            now, sleep = clock.now, running_sleep()
        else:
            now, sleep = running_clock(), running_sleep()
        t = now()
        pipeline = self._begin(t)
        ex = pipeline.begin(t, current_deadline(), idempotent=self._idempotent)
        return AsyncStepLoop(ex, now, sleep, self._site_for(name))

    @property
    def pass_timeout(self) -> str | None:
        return self._options.get("pass_timeout")


def _manual_async_sleep(clock: ManualClock) -> Callable[[float], Coroutine[Any, Any, None]]:
    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        await running_sleep()(0)

    return sleep


class Retrying:
    """The decorator ``retry`` returns: wraps sync functions and coroutine functions alike."""

    __slots__ = ("_policy",)

    def __init__(self, on: On, options: RetryOptions) -> None:
        self._policy = _Policy(on, options)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self._policy.named(getattr(fn, "__qualname__", repr(fn)))
        if inspect.iscoroutinefunction(fn):
            return _async_wrapper(policy, fn)  # type: ignore[return-value]
        name, pass_timeout = policy.name, policy.pass_timeout

        @functools.wraps(fn)
        def retrying(*args: P.args, **kwargs: P.kwargs) -> R:
            return policy.sync_loop(name).call(fn, args, kwargs, pass_timeout)  # type: ignore[no-any-return]

        return retrying


def _async_wrapper(
    policy: _Policy, fn: Callable[P, Coroutine[Any, Any, R]]
) -> Callable[P, Coroutine[Any, Any, R]]:
    name, pass_timeout = policy.name, policy.pass_timeout

    @functools.wraps(fn)
    async def retrying(*args: P.args, **kwargs: P.kwargs) -> R:
        async for attempt in policy.async_loop(name):
            if pass_timeout is not None:
                kwargs[pass_timeout] = attempt.timeout
            async with attempt:
                attempt.result = await fn(*args, **kwargs)
            if attempt.done:
                break
        return attempt.result  # type: ignore[no-any-return]

    return retrying


def retry(*, on: On, **options: Unpack[RetryOptions]) -> Retrying:
    """Retry a function or coroutine function on ``on``: ``@resilience.retry(on=httpx.HTTPError)``.

    Give-ups re-raise the last exception (with a note saying why); see ``RetryOptions``.
    """
    return Retrying(on, options)


class Attempts:
    """A block's attempts: ``for attempt in attempts(on=...): with attempt: ...`` (or ``async for``).

    Set ``attempt.result`` inside the block for ``on_result`` to judge it;
    hand ``attempt.timeout`` to the callee: a ``TimeoutError`` from the block
    is taken as that bound firing.
    """

    __slots__ = ("_policy",)

    def __init__(self, on: On, options: RetryOptions) -> None:
        self._policy = _Policy(on, options, "attempts", block=True)

    def __iter__(self) -> StepLoop:
        return self._policy.sync_loop(self._policy.name)

    def __aiter__(self) -> AsyncStepLoop:
        return self._policy.async_loop(self._policy.name)


def attempts(*, on: On, **options: Unpack[RetryOptions]) -> Attempts:
    """Retry a block: ``for attempt in resilience.attempts(on=OSError): with attempt: ...``."""
    return Attempts(on, options)


class RetryingCaller:
    """Retries calls made through it: ``caller = RetryingCaller(on=OSError); caller(fn, *args)``."""

    __slots__ = ("_policy",)

    def __init__(self, *, on: On, **options: Unpack[RetryOptions]) -> None:
        self._policy = _Policy(on, options, "call")

    def __call__(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        loop = self._policy.sync_loop(getattr(fn, "__qualname__", repr(fn)))
        return loop.call(fn, args, kwargs, self._policy.pass_timeout)  # type: ignore[no-any-return]


class AsyncRetryingCaller:
    """``await caller(fn, *args)`` for coroutine functions."""

    __slots__ = ("_policy",)

    def __init__(self, *, on: On, **options: Unpack[RetryOptions]) -> None:
        self._policy = _Policy(on, options, "call")

    async def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        pass_timeout = self._policy.pass_timeout
        async for attempt in self._policy.async_loop(getattr(fn, "__qualname__", repr(fn))):
            if pass_timeout is not None:
                kwargs[pass_timeout] = attempt.timeout
            async with attempt:
                attempt.result = await fn(*args, **kwargs)
            if attempt.done:
                break
        return attempt.result  # type: ignore[no-any-return]
