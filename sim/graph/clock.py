"""Cheap timers on a SimPy environment, and a run loop that processes them with SimPy's own events.

``Timer`` is what ``env.timeout(d).callbacks.append(fn)`` builds, without the ``Timeout`` object:
a slotted event with one callback list, pushed on the environment's queue with the same key
``(time, NORMAL, event id)`` a ``Timeout`` gets, so events are processed in exactly the order
they would be with ``env.timeout``. A ``Visit`` is scheduled the same way as its own event
(``push``, through ``sim.graph.visit.schedule``), so its hops cost no allocation at all.
``run_until`` is ``sim.stepper``'s loop with the method calls of ``peek``/``step`` inlined; it
processes any SimPy event the same way ``Environment.step`` does.

This reaches into SimPy's private queue on purpose: against the public form (``env.timeout`` plus a
callback, ``sim.stepper.advance``), with identical results, it saves 17-20% of the chapter-5 model's
CPU time (README, "Benchmarks"). Nothing else in the simulator does.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import StopSimulation

__all__ = ["NORMAL", "Timer", "later", "push", "run_until"]

NORMAL = 1  # simpy.events.NORMAL: the priority of a Timeout


class Timer:
    """A scheduled callback list (what SimPy's ``step`` needs of an event: ``callbacks``, ``_ok``)."""

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = []


def push(env: simpy.Environment, delay: float, event: Any) -> None:
    """Process ``event`` (anything with ``callbacks`` and ``_ok``) at ``env.now + delay``, in the order
    ``env.timeout(delay)`` would be."""
    queue: list[Any] = env._queue
    heappush(queue, (env._now + delay, NORMAL, next(env._eid), event))


def later(env: simpy.Environment, delay: float, fn: Callable[[Any], None]) -> None:
    """Call ``fn(timer)`` at ``env.now + delay``: ``env.timeout(delay).callbacks.append(fn)``."""
    t = Timer()
    t.callbacks = [fn]
    push(env, delay, t)


def run_until(env: simpy.Environment, until: float) -> int:
    """Process every event before ``until`` (or until a callback raises ``StopSimulation``); the
    number of events processed. The clock then reads ``until`` unless the run was stopped."""
    queue: list[Any] = env._queue
    n = 0
    try:
        while queue and queue[0][0] < until:
            now, _, _, event = heappop(queue)
            env._now = now
            callbacks = event.callbacks
            event.callbacks = None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
            n += 1
    except StopSimulation:
        return n
    if env._now < until:  # nothing is left before ``until``: move the clock there
        env.run(until=until)
    return n
