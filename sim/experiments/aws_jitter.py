"""The 2015 AWS Architecture Blog backoff-and-jitter experiment.

``N`` clients each update one row once, with optimistic concurrency: read the
row's version, then write conditionally on it; a write that finds a newer
version fails and the client backs off, then reads again. Every message
crosses a network with one-way delay |N(10 ms, 2 ms)|; the server answers
instantly. Backoff base 5 ms, cap 2 s; the first retry uses attempt 1 (so
exponential backoff waits 10, 20, 40 ms …). A trial ends when every client
has written; it reports the number of write calls and the completion time.

Two implementations are here:

- :func:`reference_trial`, a direct event-queue port of the model in
  awslabs/aws-arch-backoff-simulator (``src/backoff_simulator.py``), drawing
  its delays from the real :mod:`resilience.backoff` objects. It is the
  oracle the simulator is compared with.
- :func:`simulated_trial`, the same experiment run by the SimPy simulator
  with its compare-and-set store and the real retry pipeline.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from resilience.backoff import (
    Backoff,
    ConstantBackoff,
    DecorrelatedJitter,
    EqualJitter,
    ExponentialBackoff,
    FullJitter,
    NoJitter,
)

if TYPE_CHECKING:
    from sim.scenario.spec import Scenario

__all__ = [
    "BASE",
    "CAP",
    "NET_MEAN",
    "NET_SD",
    "STRATEGIES",
    "PointResult",
    "TrialResult",
    "reference_trial",
    "run_point",
    "scenario_for",
    "simulated_trial",
]

BASE = 0.005  # seconds
CAP = 2.0
NET_MEAN = 0.010
NET_SD = 0.002

STRATEGIES: dict[str, Backoff] = {
    "none": ConstantBackoff(base=0.0),
    "exponential": ExponentialBackoff(base=BASE, cap=CAP, first_exponent=1, jitter=NoJitter()),
    "full": ExponentialBackoff(base=BASE, cap=CAP, first_exponent=1, jitter=FullJitter()),
    "equal": ExponentialBackoff(base=BASE, cap=CAP, first_exponent=1, jitter=EqualJitter()),
    "decorrelated": ExponentialBackoff(base=BASE, cap=CAP, first_exponent=1, jitter=DecorrelatedJitter()),
}


@dataclass(frozen=True, slots=True)
class TrialResult:
    """One trial: write calls made, time until the last client finished (s)."""

    writes: int
    completion: float


@dataclass(frozen=True, slots=True)
class PointResult:
    """Means over trials at one (strategy, clients) point, with standard errors."""

    strategy: str
    clients: int
    trials: int
    writes: float
    writes_se: float
    completion: float
    completion_se: float


# Message kinds of the reference model.
_READ, _READ_RSP, _WRITE, _WRITE_RSP = 0, 1, 2, 3


def reference_trial(clients: int, backoff: Backoff, rng: random.Random) -> TrialResult:
    """One trial of the awslabs event model (server with zero service time)."""

    def net() -> float:
        return abs(rng.normalvariate(NET_MEAN, NET_SD))

    version = 0
    writes = 0
    retries = [0] * clients
    previous = [0.0] * clients
    # (time, sequence, kind, client, payload); the sequence breaks exact ties FIFO.
    queue: list[tuple[float, int, int, int, int]] = []
    seq = 0
    for c in range(clients):
        queue.append((net(), seq, _READ, c, 0))
        seq += 1
    heapq.heapify(queue)
    now = 0.0
    while queue:
        now, _, kind, c, payload = heapq.heappop(queue)
        if kind == _READ:
            nxt = (now + net(), seq, _READ_RSP, c, version)
        elif kind == _READ_RSP:
            nxt = (now + net(), seq, _WRITE, c, payload)
        elif kind == _WRITE:
            writes += 1
            ok = payload == version
            if ok:
                version += 1
            nxt = (now + net(), seq, _WRITE_RSP, c, int(ok))
        else:  # _WRITE_RSP
            if payload:
                continue
            retries[c] = n = retries[c] + 1
            delay = backoff.delay(n, previous[c], rng)
            previous[c] = delay
            nxt = (now + net() + delay, seq, _READ, c, 0)
        seq += 1
        heapq.heappush(queue, nxt)
    return TrialResult(writes, now)


def _mean_se(xs: Sequence[float]) -> tuple[float, float]:
    m = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else math.inf
    return m, se


def run_point(
    strategy: str,
    clients: int,
    trials: int,
    seed: int,
    trial: Callable[[int, Backoff, int], TrialResult] | None = None,
) -> PointResult:
    """Mean writes and completion time over ``trials`` trials with seeds ``seed, seed+1, …``.

    ``trial(clients, backoff, seed)`` runs one trial; the default is the
    reference model.
    """
    backoff = STRATEGIES[strategy]
    run = trial or (lambda n, b, s: reference_trial(n, b, random.Random(s)))
    results = [run(clients, backoff, seed + i) for i in range(trials)]
    w, wse = _mean_se([float(r.writes) for r in results])
    t, tse = _mean_se([r.completion for r in results])
    return PointResult(strategy, clients, trials, w, wse, t, tse)


SCENARIO_FILE = "scenarios/truth/aws_jitter.toml"


def scenario_for(clients: int, backoff: Backoff, base: Scenario | None = None) -> Scenario:
    """The experiment's scenario with ``clients`` writers using ``backoff``."""
    from sim.scenario.loader import load_scenario

    sc = base if base is not None else load_scenario(_repo_file(SCENARIO_FILE))
    (gname, group), *_ = sc.clients.items()
    group = replace(group, instances=clients, retry=replace(group.retry, backoff=backoff))
    return replace(sc, clients={gname: group})


def simulated_trial(clients: int, backoff: Backoff, seed: int) -> TrialResult:
    """One trial run by the simulator: write calls on the row, and when the last client finished."""
    from sim import run

    sc = scenario_for(clients, backoff)
    summary = run(sc, seed=seed).summary
    (gname, group), *_ = sc.clients.items()
    writes = summary["calls"][f"{gname}->{group.target}"]["write"]
    if summary["successes"] != clients:
        raise RuntimeError(f"trial ended with {summary['successes']} of {clients} writers done: {summary}")
    return TrialResult(int(writes), float(summary["sim_seconds"]))


def _repo_file(relative: str) -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2] / relative)
