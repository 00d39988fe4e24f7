"""The run loop: steps a SimPy environment to a time, counting the events it processes.

The loop is ``while env.peek() < until: env.step()`` with ``peek`` and ``step`` inlined: it pops
SimPy's queue and calls each event's callbacks exactly as ``Environment.step`` does (a failed event
nobody defused raises), so results are those of the public form. Inlined, the loop runs in the
compiled build instead of interpreting ``step`` per event: it reaches into SimPy's private queue on
purpose (with ``sim.model.clock``, the simulator's only private access), for a measured share of
a single-tier run's CPU time (README, "Benchmarks").
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any, Final

import simpy
from simpy.core import StopSimulation

__all__ = ["Stepped", "advance"]

_heappop: Final = heapq.heappop  # Final: a C static when compiled

PROGRESS_EVERY: Final = 8192  # events between progress-bar updates
_RESUME: Any = -1  # the priority ``Environment.step`` reschedules a stopped event with


@dataclass(frozen=True, slots=True)
class Stepped:
    """What a run loop did: ``events`` processed (deterministic) and the wall seconds it took."""

    events: int
    wall_seconds: float


def advance(env: simpy.Environment, until: float, *, progress: bool = False, name: str = "") -> Stepped:
    """Process every event before ``until`` (the clock then reads ``until``), or stop early when a
    callback raises ``StopSimulation``; with ``progress``, a bar in simulated seconds with events/s."""
    t0 = time.perf_counter()
    events = _with_bar(env, until, name, t0) if progress else _plain(env, until)
    return Stepped(events, time.perf_counter() - t0)


def _steps(env: simpy.Environment, until: float, limit: int) -> int:
    """Process events before ``until``, at most ``limit`` of them; the number processed, or
    ``-1 - n`` when the ``n+1``-th raised ``StopSimulation`` (it is not counted)."""
    queue: list[Any] = env._queue
    n = 0
    try:
        while n < limit and queue and queue[0][0] < until:
            now, _, _, event = _heappop(queue)
            env._now = now
            callbacks = event.callbacks
            event.callbacks = None
            i = 0
            try:
                if len(callbacks) == 1:  # the common case, without an iterator
                    callbacks[0](event)
                else:
                    for callback in callbacks:
                        callback(event)
                        i += 1
            except StopSimulation:  # as ``step``: the rest of its callbacks run when the run resumes
                event.callbacks = list(callbacks[i + 1 :])
                env.schedule(event, _RESUME)
                raise
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
            n += 1
    except StopSimulation:
        return -1 - n
    return n


def _plain(env: simpy.Environment, until: float) -> int:
    n = _steps(env, until, 1 << 62)
    if n < 0:
        return -1 - n
    _settle(env, until)
    return n


def _with_bar(env: simpy.Environment, until: float, name: str, t0: float) -> int:
    from tqdm import tqdm

    n = 0
    with tqdm(total=until, desc=name, unit="sim s", leave=False, bar_format=_FORMAT) as bar:
        while True:
            k = _steps(env, until, PROGRESS_EVERY)
            if k < 0:
                return n - 1 - k
            n += k
            if k < PROGRESS_EVERY:
                break
            bar.update(env.now - bar.n)
            bar.set_postfix_str(f"{n / max(time.perf_counter() - t0, 1e-9):,.0f} events/s")
        _settle(env, until)
        bar.update(env.now - bar.n)
    return n


_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} sim s [{elapsed}<{remaining}{postfix}]"


def _settle(env: simpy.Environment, until: float) -> None:
    """Move the clock to ``until`` (no event is left before it)."""
    if env.now < until:
        env.run(until=until)
