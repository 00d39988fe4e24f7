"""A pipeline composes deadline → retry → breaker for calls to one target."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from .classify import Classifier
from .deadline import Deadline, current_deadline
from .events import Listener, TraceEvent
from .execution import Execution
from .protocols import BreakerLike, BudgetLike
from .retry import RetryConfig
from .rng import RandomSource

__all__ = ["Pipeline"]


class Pipeline:
    """Shared, thread-safe policy objects; ``begin`` starts one request's execution.

    ``rng`` draws the backoff jitter; pass a seeded ``random.Random`` for
    reproducible runs (the default is a fresh, OS-seeded one).
    """

    __slots__ = (
        "attempt_timeout",
        "backoff",
        "breaker",
        "budget",
        "classifier",
        "honor_retry_after",
        "listeners",
        "max_attempts",
        "max_retry_after",
        "name",
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
        self.breaker = breaker
        self.budget = budget
        self.classifier = classifier or Classifier()
        self.rng: RandomSource = rng if rng is not None else random.Random()
        self.listeners: tuple[Listener, ...] = tuple(listeners)
        self.max_attempts = retry.max_attempts
        self.attempt_timeout = math.inf if retry.attempt_timeout is None else retry.attempt_timeout
        self.timeout = retry.timeout
        self.backoff = retry.backoff
        self.honor_retry_after = retry.honor_retry_after
        self.max_retry_after = retry.max_retry_after

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

        The effective deadline is the earliest of ``deadline``, the enclosing
        ``deadline_scope`` and the configured ``timeout``.
        """
        scope = current_deadline()
        if deadline is None or (scope is not None and scope.expires_at < deadline.expires_at):
            deadline = scope
        if self.timeout is not None:
            own = now + self.timeout
            if deadline is None or own < deadline.expires_at:
                deadline = Deadline(own, timeout=self.timeout)
        return Execution(
            self, now, deadline, idempotent=idempotent, idempotency_key=idempotency_key, trace=trace
        )

    def add_listener(self, listener: Listener) -> None:
        """Subscribe to this pipeline's decision events."""
        self.listeners = (*self.listeners, listener)
