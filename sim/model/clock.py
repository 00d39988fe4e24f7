"""Cheap timers on a SimPy environment.

``Timer`` is what ``env.timeout(d).callbacks.append(fn)`` builds, without the ``Timeout`` object:
a slotted event with one callback list, pushed on the environment's queue with the same key
``(time, NORMAL, event id)`` a ``Timeout`` gets, so events are processed in exactly the order
they would be with ``env.timeout``. A ``Visit`` is scheduled the same way as its own event
(``push``, through ``sim.graph.visit.schedule``), so its hops cost no allocation at all.
``sim.stepper``'s run loop processes them as it processes any SimPy event.

This reaches into SimPy's private queue on purpose: against the public form (``env.timeout`` plus a
callback, and a ``peek``/``step`` loop), with identical results, these timers and ``sim.stepper``'s
loop cut the CPU time to 0.79 of it on the chapter-5 model and 0.89-0.93 on the single-tier
benchmarks, compiled (README, "Benchmarks"). Only ``sim.stepper``'s loop does so too.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

import simpy

__all__ = ["NORMAL", "Timer", "later", "push"]

_heappush: Final = heapq.heappush  # Final: a C static when compiled
_next: Final = next

NORMAL: Final = 1  # simpy.events.NORMAL: the priority of a Timeout


class Timer:
    """A scheduled callback list (what SimPy's ``step`` needs of an event: ``callbacks``, ``_ok``)."""

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self, fn: Callable[[Any], None]) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = [fn]


def push(env: simpy.Environment, delay: float, event: Any) -> None:
    """Process ``event`` (anything with ``callbacks`` and ``_ok``) at ``env.now + delay``, in the order
    ``env.timeout(delay)`` would be."""
    queue: list[Any] = env._queue
    now: Any = env._now  # as SimPy keeps it: no float conversion on the way into the key
    _heappush(queue, (now + delay, NORMAL, _next(env._eid), event))


def later(env: simpy.Environment, delay: float, fn: Callable[[Any], None]) -> None:
    """Call ``fn(timer)`` at ``env.now + delay``: ``env.timeout(delay).callbacks.append(fn)``."""
    push(env, delay, Timer(fn))
