"""Workloads at run time: arrival callbacks that start requests on client instances."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy

from sim.model.client import GroupRT, Request
from sim.model.clock import later
from sim.model.driver import call_later
from sim.model.streams import BlockRandom
from sim.scenario.workloads import Burst, ClosedLoop, Fixed, Poisson, Ramp, Schedule, Workload

__all__ = ["install"]


class _OpenLoop:
    """Poisson arrivals with a piecewise-constant rate (exact: the exponential is memoryless)."""

    def __init__(
        self,
        env: simpy.Environment,
        g: GroupRT,
        steps: list[tuple[float, float]],
        gen: np.random.Generator,
        pick: BlockRandom,
    ) -> None:
        self.env, self.g, self.steps = env, g, steps
        self.exp1 = BlockRandom(lambda n: gen.exponential(1.0, n))
        self.pick = pick
        self.n = g.instances
        self.k = 0
        call_later(env, steps[0][0], self._boundary)

    def _boundary(self, _ev: object) -> None:
        self._schedule(self.env.now)

    def _schedule(self, now: float) -> None:
        steps, k = self.steps, self.k
        while k + 1 < len(steps) and steps[k + 1][0] <= now:
            k += 1
        self.k = k
        rate = steps[k][1]
        edge = steps[k + 1][0] if k + 1 < len(steps) else math.inf
        gap = self.exp1() / rate if rate > 0 else math.inf
        if now + gap < edge:
            call_later(self.env, gap, self._arrive)
        elif edge < math.inf:
            call_later(self.env, edge - now, self._boundary)

    def _arrive(self, _ev: object) -> None:
        self.g.start(int(self.pick() * self.n))
        self._schedule(self.env.now)


class _Poisson:
    """Poisson arrivals at a constant rate (the common case, kept lean)."""

    def __init__(
        self, env: simpy.Environment, g: GroupRT, rate: float, gen: np.random.Generator, pick: BlockRandom
    ) -> None:
        self.env, self.g = env, g
        self.gap = BlockRandom(lambda n: gen.exponential(1.0 / rate, n)).random
        self.pick = pick.random
        self.n = g.instances
        later(env, self.gap(), self._arrive)

    def _arrive(self, _ev: object) -> None:
        self.g.start(int(self.pick() * self.n))
        later(self.env, self.gap(), self._arrive)


class _Thinned:
    """Poisson arrivals with rate ``rate_at(t)`` by thinning a Poisson stream at the peak rate."""

    def __init__(
        self,
        env: simpy.Environment,
        g: GroupRT,
        rate_at: Callable[[float], float],
        peak: float,
        gen: np.random.Generator,
        pick: BlockRandom,
    ) -> None:
        self.env, self.g, self.rate_at, self.peak = env, g, rate_at, peak
        self.exp1 = BlockRandom(lambda n: gen.exponential(1.0, n))
        self.u = BlockRandom(lambda n: gen.random(n))
        self.pick, self.n = pick, g.instances
        call_later(env, self.exp1() / peak, self._candidate)

    def _candidate(self, _ev: object) -> None:
        now = self.env.now
        if self.u() * self.peak < self.rate_at(now):
            self.g.start(int(self.pick() * self.n))
        call_later(self.env, self.exp1() / self.peak, self._candidate)


def _closed(
    env: simpy.Environment,
    g: GroupRT,
    wl: ClosedLoop | Fixed,
    think: Callable[[], float],
    on_all_done: Callable[[], None],
) -> None:
    """Users that send a request, wait for its end, think, and go again (``Fixed``: a set number)."""
    fixed = isinstance(wl, Fixed)
    users = 1 if fixed else wl.concurrency  # type: ignore[union-attr]
    left = [wl.requests if fixed else -1 for _ in range(g.instances)]  # type: ignore[union-attr]
    active = [g.instances]

    def make(i: int) -> Callable[[Request], None]:
        def again_later(_ev: object) -> None:
            g.start(i, done)

        def done(_req: Request) -> None:
            if fixed:
                left[i] -= 1
                if left[i] <= 0:
                    active[0] -= 1
                    if active[0] == 0:
                        on_all_done()
                    return
            d = think()
            if d > 0:
                call_later(env, d, again_later)
            else:
                g.start(i, done)

        return done

    for i in range(g.instances):
        for _ in range(users):
            cb = make(i)
            call_later(env, 0.0, _user_start(g, i, cb))


def _user_start(g: GroupRT, i: int, cb: Callable[[Request], None]) -> Callable[[object], None]:
    """A timer callback that starts instance ``i``'s first request, ending in ``cb``."""

    def begin(_ev: object) -> None:
        g.start(i, cb)

    return begin


def install(
    env: simpy.Environment,
    g: GroupRT,
    wl: Workload,
    gen: Callable[[str], np.random.Generator],
    on_all_done: Callable[[], None],
) -> Any:
    """Start ``wl``'s arrivals for group ``g``; ``gen(purpose)`` gives the group's streams."""
    pick_gen = gen("instances")
    pick = BlockRandom(lambda n: pick_gen.random(n))
    if isinstance(wl, Poisson):
        return _Poisson(env, g, wl.rate, gen("arrivals"), pick)
    if isinstance(wl, Schedule):
        return _OpenLoop(env, g, [(float(t), float(r)) for t, r in wl.steps], gen("arrivals"), pick)
    if isinstance(wl, Ramp):
        return _Thinned(env, g, wl.rate_at, wl.peak_rate(), gen("arrivals"), pick)
    if isinstance(wl, Burst):
        if wl.rate > 0:
            _Poisson(env, g, wl.rate, gen("arrivals"), pick)
        burst_gen = gen("burst")
        bpick = BlockRandom(lambda n: burst_gen.random(n))
        for k in range(wl.count):
            at = wl.at + (wl.spread * k / wl.count if wl.count else 0.0)
            call_later(env, at, lambda _ev: g.start(int(bpick() * g.instances)))
        return None
    if isinstance(wl, (ClosedLoop, Fixed)):
        think = wl.think.sampler(gen("think"))
        return _closed(env, g, wl, think, on_all_done)
    raise TypeError(f"unknown workload {wl!r}")
