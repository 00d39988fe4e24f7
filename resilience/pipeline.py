"""A pipeline composes deadline → retry → breaker for calls to one target."""

from __future__ import annotations

import random
from collections.abc import Iterable

from .classify import Classifier
from .deadline import Deadline
from .events import Listener, TraceEvent
from .execution import Execution
from .execution_policy import ExecutionPolicy
from .protocols import BreakerLike, BudgetLike
from .retry import RetryConfig
from .rng import RandomSource

__all__ = ["Pipeline"]


class Pipeline:
    """Shared, thread-safe policy objects; ``begin`` starts one request's execution.

    ``rng`` draws the backoff jitter; pass a seeded ``random.Random`` for
    reproducible runs (the default is a fresh, OS-seeded one). ``policy`` is
    the frozen retry policy every execution decides by.
    """

    __slots__ = (
        "breaker",
        "budget",
        "classifier",
        "listeners",
        "name",
        "policy",
        "retry",
        "rng",
        "timeout",
    )

    def __init__(
        self,
        retry: RetryConfig | None = None,
        *,
        breaker: BreakerLike | None = None,
        budget: BudgetLike | None = None,
        classifier: Classifier | None = None,
        rng: RandomSource | None = None,
        listeners: Iterable[Listener] = (),
        name: str = "default",
    ) -> None:
        self.name = name
        self.retry = retry = retry or RetryConfig(max_attempts=1)
        self.policy = ExecutionPolicy.from_retry(retry, name)
        self.breaker = breaker
        self.budget = budget
        self.classifier = classifier or Classifier()
        self.rng: RandomSource = rng if rng is not None else random.Random()
        self.listeners: tuple[Listener, ...] = tuple(listeners)
        self.timeout = retry.timeout

    def begin(
        self,
        now: float,
        deadline: Deadline | None = None,
        *,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        trace: list[TraceEvent] | None = None,
    ) -> Execution:
        """Start one logical request at ``now``.

        The effective deadline is the earlier of ``deadline`` and the
        configured ``timeout``. Nothing ambient is read: a driver resolves an
        enclosing ``deadline_scope`` and passes it in as ``deadline``.
        """
        timeout = self.timeout
        if timeout is not None:
            own = now + timeout
            if deadline is None or own < deadline.expires_at:
                deadline = Deadline(own, timeout=timeout)
        return Execution(
            self.policy,
            now,
            deadline,
            self.rng,
            self.breaker,
            self.budget,
            self.listeners,
            idempotent,
            idempotency_key,
            trace,
        )

    def add_listener(self, listener: Listener) -> None:
        """Subscribe to this pipeline's decision events (executions begun from now on)."""
        self.listeners = (*self.listeners, listener)
