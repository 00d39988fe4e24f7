"""The SimPy driver: runs ``resilience`` executions with ``env.now`` as the clock.

Two forms of the same protocol (begin → Attempt/Wait … → Done/GiveUp):

* ``SimPyDriver`` — idiomatic: one SimPy process per request; an attempt is
  any SimPy event whose value is an ``Outcome``, raced against
  ``env.timeout(step.timeout)``; a ``Wait`` is ``env.timeout(step.delay)``.
* ``CallbackRequest`` — the simulator's hot path: the same steps driven by
  scheduled callbacks instead of generator processes (no process objects,
  fewer allocations). Subclasses say how to ``send`` an attempt and what to do
  when the request ``finish``-es; they report an attempt's outcome with
  ``deliver``.

Neither re-implements a decision: every step comes from ``Execution.next``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any, Final, cast

import simpy

from resilience.deadline import Deadline
from resilience.events import TraceEvent
from resilience.execution import Execution
from resilience.outcome import Outcome, TimeoutPhase
from resilience.pipeline import Pipeline
from resilience.steps import Attempt, Done, GiveUp, Wait
from sim.model.clock import later

__all__ = ["CallbackRequest", "SimPyDriver", "call_later"]

_INF: Final = math.inf


def call_later(env: simpy.Environment, delay: float, fn: Callable[[Any], None]) -> None:
    """Call ``fn(event)`` at ``env.now + delay``, in the order ``env.timeout(delay)`` with one
    callback would (``sim.model.clock.later``)."""
    later(env, delay, fn)


class SimPyDriver:
    """Runs one pipeline's requests as SimPy processes."""

    def __init__(
        self,
        env: simpy.Environment,
        pipeline: Pipeline,
        *,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        deadline: Deadline | None = None,
        trace: list[TraceEvent] | None = None,
    ) -> None:
        self.env = env
        self.pipeline = pipeline
        self.idempotent = idempotent
        self.idempotency_key = idempotency_key
        self.deadline = deadline
        self.trace = trace

    def call(self, attempt: Callable[[Attempt], simpy.Event]) -> simpy.Process:
        """A process for one request; its value is the final ``Done`` or ``GiveUp``.

        ``attempt(step)`` starts one attempt and returns an event whose value is
        its ``Outcome``. If the attempt's timeout fires first, the outcome is a
        timeout of the step's phase; the attempt's event is left to finish on
        its own (its work keeps going, as a real server's would).
        """
        return self.env.process(self._run(attempt))

    def _run(self, attempt: Callable[[Attempt], simpy.Event]) -> Generator[simpy.Event, Any, Done | GiveUp]:
        env = self.env
        ex = self.pipeline.begin(
            env.now,
            self.deadline,
            idempotent=self.idempotent,
            idempotency_key=self.idempotency_key,
            trace=self.trace,
        )
        step = ex.next(env.now)
        while True:
            if isinstance(step, Attempt):
                call = attempt(step)
                if step.timeout < _INF:
                    timer = env.timeout(step.timeout)
                    yield call | timer
                    if call.triggered and call.ok:
                        outcome: Outcome = cast(Outcome, call.value)
                    else:
                        outcome = Outcome.timeout(step.phase or TimeoutPhase.ATTEMPT)
                else:
                    outcome = yield call
                step = ex.next(env.now, outcome)
            elif isinstance(step, Wait):
                yield env.timeout(step.delay)
                step = ex.next(env.now)
            else:
                return step


class CallbackRequest:
    """One request's execution driven by callbacks; subclasses implement ``send`` and ``finish``."""

    __slots__ = ("env", "ex")

    def __init__(self, env: simpy.Environment, ex: Execution) -> None:
        self.env = env
        self.ex = ex

    def start(self) -> None:
        """Ask for the first step and perform it."""
        self.advance(self.ex.next(self.env.now))

    def deliver(self, outcome: Outcome) -> None:
        """The outcome of the attempt in progress."""
        self.advance(self.ex.next(self.env.now, outcome))

    def advance(self, step: Attempt | Wait | Done | GiveUp) -> None:
        if isinstance(step, Attempt):
            self.send(step)
        elif isinstance(step, Wait):
            self.waiting(step)
            later(self.env, step.delay, self._resume)
        else:
            self.finish(step)

    def _resume(self, _event: object) -> None:
        self.advance(self.ex.next(self.env.now))

    # -- for subclasses --------------------------------------------------------------
    def send(self, step: Attempt) -> None:
        """Start the attempt; report its outcome later with ``deliver``."""
        raise NotImplementedError

    def waiting(self, step: Wait) -> None:
        """A retry wait begins (for accounting)."""

    def finish(self, step: Done | GiveUp) -> None:
        """The request is over."""
        raise NotImplementedError
