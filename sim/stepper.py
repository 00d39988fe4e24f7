"""The run loop: steps a SimPy environment to a time, counting the events it processes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import simpy
from simpy.core import StopSimulation

__all__ = ["Stepped", "advance"]

PROGRESS_EVERY = 8192  # events between progress-bar updates


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


def _plain(env: simpy.Environment, until: float) -> int:
    peek, step = env.peek, env.step
    n = 0
    try:
        while peek() < until:
            step()
            n += 1
    except StopSimulation:
        return n
    _settle(env, until)
    return n


def _with_bar(env: simpy.Environment, until: float, name: str, t0: float) -> int:
    from tqdm import tqdm

    peek, step = env.peek, env.step
    n = 0
    with tqdm(total=until, desc=name, unit="sim s", leave=False, bar_format=_FORMAT) as bar:
        try:
            while peek() < until:
                step()
                n += 1
                if n % PROGRESS_EVERY == 0:
                    bar.update(env.now - bar.n)
                    bar.set_postfix_str(f"{n / max(time.perf_counter() - t0, 1e-9):,.0f} events/s")
        except StopSimulation:
            return n
        _settle(env, until)
        bar.update(env.now - bar.n)
    return n


_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} sim s [{elapsed}<{remaining}{postfix}]"


def _settle(env: simpy.Environment, until: float) -> None:
    """Move the clock to ``until`` (no event is left before it)."""
    if env.now < until:
        env.run(until=until)
