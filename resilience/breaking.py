"""``@resilience.breaker(name=...)`` and ``with breaker.guard():``: shared breakers by name.

Breakers come from a registry, one per name, shared by every call site in
the process. The default registry (``BreakerConfig()`` defaults) evicts a
CLOSED breaker unused for 10 minutes, checking at most once a minute, on
use; open breakers are kept. Pass ``registry=`` for other configs. Time is
the monotonic clock, the testing clock in testing mode, or ``clock=``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from .breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from .classify import Classifier
from .clock import Clock, MonotonicClock
from .errors import BreakerOpen
from .instrumentation import log_breaker_transition
from .outcome import SUCCESS, FailureReason, Outcome
from .protocols import Permit
from .switches import current

__all__ = ["IDLE_TTL", "SharedBreaker", "breaker", "default_registry", "shared_breaker"]

P = ParamSpec("P")
R = TypeVar("R")

IDLE_TTL = 600.0
"""Seconds a CLOSED breaker of the default registry may stay unused before it is evicted."""
_EVICT_EVERY = 60.0
_MONOTONIC = MonotonicClock()
_lock = threading.Lock()
_registry: BreakerRegistry | None = None
_last_eviction = float("-inf")


def default_registry() -> BreakerRegistry:
    """The process-wide registry behind ``breaker(name=...)`` and ``retry(breaker="name")``."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = BreakerRegistry(
                BreakerConfig(), idle_ttl=IDLE_TTL, state_listeners=(log_breaker_transition,)
            )
        return _registry


def reset_default_registry() -> None:
    """Forget every breaker of the default registry (testing mode starts from here)."""
    global _registry, _last_eviction
    with _lock:
        _registry, _last_eviction = None, float("-inf")


def shared_breaker(name: str, now: float, registry: BreakerRegistry | None = None) -> CircuitBreaker:
    """The breaker called ``name`` at ``now``, evicting idle ones from the default registry now and then."""
    global _last_eviction
    if registry is None:
        registry = default_registry()
        if now - _last_eviction >= _EVICT_EVERY:
            _last_eviction = now
            registry.evict_idle(now)
    return registry.get(name, now)


def front_clock(clock: Clock | None) -> Clock:
    """``clock``, else the testing clock in testing mode, else the monotonic clock."""
    if clock is not None:
        return clock
    testing = current().clock
    return testing if testing is not None and current().testing else _MONOTONIC


class _Guard:
    """One call through the breaker: refused with ``BreakerOpen`` or recorded on exit."""

    __slots__ = ("_breaker", "_clock", "_owner", "_permit", "_started")

    def __init__(self, owner: SharedBreaker) -> None:
        self._owner = owner
        self._clock = front_clock(owner.clock)
        self._breaker: CircuitBreaker | None = None
        self._permit: Permit | None = None
        self._started = 0.0

    def __enter__(self) -> _Guard:
        now = self._clock.now()
        b = self._breaker = shared_breaker(self._owner.name, now, self._owner.registry)
        permit = b.try_acquire(now)
        if permit is None:
            reason = FailureReason.BREAKER_OPEN
            raise BreakerOpen(reason, None, 0, None, b.seconds_until_probe(now))
        self._permit, self._started = permit, now
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        b, permit = self._breaker, self._permit
        assert b is not None and permit is not None
        self._permit = None
        now = self._clock.now()
        outcome = self._owner.outcome(exc)
        if outcome is None:
            b.release(permit, now)
        else:
            b.record(permit, now, now - self._started, outcome)

    async def __aenter__(self) -> _Guard:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class SharedBreaker:
    """A handle on the registry's breaker called ``name``: a decorator, and ``guard()`` for blocks.

    ``on`` names the exceptions that count against the breaker (default:
    every ``Exception``, as the classifier labels it); others, and
    cancellation, free the permit without counting.
    """

    __slots__ = ("classifier", "clock", "name", "on", "registry")

    def __init__(
        self,
        name: str,
        *,
        on: type[Exception] | tuple[type[Exception], ...] = Exception,
        registry: BreakerRegistry | None = None,
        clock: Clock | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.name = name
        self.on = on
        self.registry = registry
        self.clock = clock
        self.classifier = classifier if classifier is not None else Classifier()

    def outcome(self, exc: BaseException | None) -> Outcome | None:
        """What a call that ended with ``exc`` tells the breaker (None: nothing, free the permit)."""
        if exc is None:
            return SUCCESS
        if not isinstance(exc, self.on):
            return None
        return self.classifier.exception(exc)

    def guard(self) -> _Guard:
        """``with b.guard():`` (or ``async with``): one call through the breaker."""
        return _Guard(self)

    @property
    def state(self) -> BreakerState:
        """The breaker's state now."""
        now = front_clock(self.clock).now()
        return shared_breaker(self.name, now, self.registry).state_at(now)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(fn):
            return self._wrap_async(fn)  # type: ignore[return-value]

        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if not current().active:
                return fn(*args, **kwargs)
            with _Guard(self):
                return fn(*args, **kwargs)

        return guarded

    def _wrap_async(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if not current().active:
                return await fn(*args, **kwargs)
            with _Guard(self):
                return await fn(*args, **kwargs)

        return guarded


def breaker(
    name: str,
    *,
    on: type[Exception] | tuple[type[Exception], ...] = Exception,
    registry: BreakerRegistry | None = None,
    clock: Clock | None = None,
    classifier: Classifier | None = None,
) -> SharedBreaker:
    """The shared breaker called ``name``: ``@resilience.breaker(name="db")`` or
    ``with resilience.breaker(name="db").guard(): ...``. A refused call raises ``BreakerOpen``."""
    return SharedBreaker(name, on=on, registry=registry, clock=clock, classifier=classifier)
