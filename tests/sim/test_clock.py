"""The cheap timers and the inlined run loop behave as SimPy's own timeouts and ``Environment.run``."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import simpy
from simpy.core import StopSimulation

from sim.model.clock import later
from sim.stepper import advance


def _schedule(env: simpy.Environment, cheap: bool, log: list[tuple[float, int]]) -> None:
    """Timers at random times (many ties), each scheduling a follow-up; ``cheap`` uses ``later``
    for every other one, else ``env.timeout`` for all."""
    rng = random.Random(7)

    def make(k: int) -> Callable[[Any], None]:
        def fire(_ev: object) -> None:
            log.append((env.now, k))
            if k < 400:
                add(k + 1000, rng.choice((0.0, 0.5, 1.0)))

        return fire

    def add(k: int, delay: float) -> None:
        if cheap and k % 2:
            later(env, delay, make(k))
        else:
            env.timeout(delay).callbacks.append(make(k))

    for k in range(400):
        add(k, rng.choice((0.0, 0.25, 0.5, 1.0, 2.0, 9.0)))


def test_cheap_timers_fire_in_the_order_simpy_timeouts_would() -> None:
    ref: list[tuple[float, int]] = []
    env = simpy.Environment()
    _schedule(env, False, ref)
    env.run(until=5.0)  # SimPy's own loop over its own timeouts
    got: list[tuple[float, int]] = []
    env2 = simpy.Environment()
    _schedule(env2, True, got)
    n_got = advance(env2, 5.0).events
    assert got == ref
    assert n_got == len(ref)
    assert env2.now == env.now == 5.0  # the clock is settled at the horizon
    assert all(t < 5.0 for t, _ in got) and len(env2._queue) > 0  # the 9 s timers wait


def test_the_progress_bar_loop_processes_the_same_events() -> None:
    ref: list[tuple[float, int]] = []
    env = simpy.Environment()
    _schedule(env, True, ref)
    n_ref = advance(env, 5.0).events
    got: list[tuple[float, int]] = []
    env2 = simpy.Environment()
    _schedule(env2, True, got)
    n_got = advance(env2, 5.0, progress=True, name="t").events  # in chunks of PROGRESS_EVERY
    assert got == ref and n_got == n_ref == len(ref)
    assert env2.now == 5.0


def test_the_loop_stops_where_a_callback_stops_the_simulation() -> None:
    env = simpy.Environment()
    seen: list[float] = []

    def stop(_ev: object) -> None:
        raise StopSimulation("done")

    for t in (1.0, 2.0, 3.0):
        later(env, t, lambda _ev: seen.append(env.now))
    later(env, 2.5, stop)
    assert advance(env, 10.0).events == 2  # the stopping event is not counted
    assert seen == [1.0, 2.0] and env.now == 2.5


def test_a_stopped_event_keeps_its_other_callbacks_for_the_resumed_run_as_simpy_does() -> None:
    def trace(runner: Callable[[simpy.Environment], None]) -> list[tuple[str, float]]:
        env = simpy.Environment()
        log: list[tuple[str, float]] = []

        def stop(_ev: object) -> None:
            log.append(("stop", env.now))
            raise StopSimulation("pause")

        ev = env.timeout(1.0)
        ev.callbacks.extend([stop, lambda _ev: log.append(("after", env.now))])
        env.timeout(2.0).callbacks.append(lambda _ev: log.append(("later", env.now)))
        runner(env)
        runner(env)
        return log

    def simpy_step(env: simpy.Environment) -> None:
        try:
            while env.peek() < 10.0:
                env.step()
        except StopSimulation:
            pass

    ours = trace(lambda env: advance(env, 10.0) and None)
    assert ours == trace(simpy_step)
    assert ours == [("stop", 1.0), ("after", 1.0), ("later", 2.0)]
