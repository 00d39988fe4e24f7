"""Bare SimPy M/M/c written with callbacks: the engine's practical limit.

The same model as ``simpy_mmc`` without processes or a ``Resource``: every
event is an ``env.timeout(d)`` whose ``callbacks`` list gets one function
appended (public API only). An arrival schedules the next arrival and either
starts service on a free server or joins a FIFO queue; a departure starts the
next queued customer. What is left is SimPy's own cost per event.
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

import simpy


class _MMc:
    """The model's state and its two callbacks."""

    def __init__(self, env: simpy.Environment, n: int, lam: float, mu: float, c: int, seed: int) -> None:
        self.env = env
        self.rng = random.Random(seed)
        self.left = n
        self.lam, self.mu = lam, mu
        self.free = c
        self.queue: deque[float] = deque()
        self.waits: list[float] = []
        self.times: list[float] = []

    def arrive(self, _event: Any = None) -> None:
        env = self.env
        now = env.now
        if self.free:
            self.free -= 1
            self._serve(now, now)
        else:
            self.queue.append(now)
        self.left -= 1
        if self.left > 0:
            env.timeout(self.rng.expovariate(self.lam)).callbacks.append(self.arrive)

    def _serve(self, arrived: float, now: float) -> None:
        self.waits.append(now - arrived)
        times = self.times

        def depart(_event: Any) -> None:
            times.append(self.env.now - arrived)
            if self.queue:
                self._serve(self.queue.popleft(), self.env.now)
            else:
                self.free += 1

        self.env.timeout(self.rng.expovariate(self.mu)).callbacks.append(depart)


def run(
    customers: int = 200_000, lam: float = 3.2, mu: float = 1.0, c: int = 4, seed: int = 1
) -> dict[str, float]:
    """Simulate ``customers`` arrivals to completion; wall time includes building the model."""
    t0 = time.perf_counter()
    env = simpy.Environment()
    model = _MMc(env, customers, lam, mu, c, seed)
    env.timeout(model.rng.expovariate(lam)).callbacks.append(model.arrive)
    env.run()
    elapsed = time.perf_counter() - t0
    times, waits = model.times, model.waits
    return {
        "customers": float(len(times)),
        "seconds": elapsed,
        "customers_per_s": len(times) / elapsed,
        "mean_wait": sum(waits) / len(waits),
        "mean_time_in_system": sum(times) / len(times),
        "sim_seconds": env.now,
    }


if __name__ == "__main__":
    print(run())
