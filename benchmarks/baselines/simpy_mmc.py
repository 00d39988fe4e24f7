"""Bare SimPy M/M/c in the form SimPy's documentation teaches.

A ``simpy.Resource`` with ``c`` slots is the servers; a source process
creates customers with exponential inter-arrival times; each customer is a
process that requests the resource, waits, is served for an exponential time
and releases it (``with resource.request() as req``). Nothing here is tuned.
"""

from __future__ import annotations

import random
import time
from typing import Any

import simpy


def customer(
    env: simpy.Environment,
    servers: simpy.Resource,
    mu: float,
    rng: random.Random,
    waits: list[float],
    times: list[float],
) -> Any:
    """One customer: queue for a server, get served, leave."""
    arrive = env.now
    with servers.request() as req:
        yield req
        waits.append(env.now - arrive)
        yield env.timeout(rng.expovariate(mu))
    times.append(env.now - arrive)


def source(
    env: simpy.Environment,
    n: int,
    lam: float,
    mu: float,
    servers: simpy.Resource,
    rng: random.Random,
    waits: list[float],
    times: list[float],
) -> Any:
    """Generate ``n`` customers with Poisson arrivals."""
    for _ in range(n):
        env.process(customer(env, servers, mu, rng, waits, times))
        yield env.timeout(rng.expovariate(lam))


def run(
    customers: int = 200_000, lam: float = 3.2, mu: float = 1.0, c: int = 4, seed: int = 1
) -> dict[str, float]:
    """Simulate ``customers`` arrivals to completion; wall time includes building the model."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    waits: list[float] = []
    times: list[float] = []
    env.process(source(env, customers, lam, mu, servers, rng, waits, times))
    env.run()
    elapsed = time.perf_counter() - t0
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
