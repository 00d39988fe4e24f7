"""A simulation started inside a ``deadline_scope`` is not touched by it: the core reads no ambient state.

The scope's deadline is a point on the caller's clock; simulated time is
another clock. Before the fix, ``Pipeline.begin`` read the scope and every
simulated request after it failed with ``deadline_exceeded``.
"""

from __future__ import annotations

import random

import simpy
from simcase import small

from resilience.core import Deadline, Outcome, Pipeline, RetryConfig, deadline_scope
from resilience.steps import Attempt, Done
from sim import run
from sim.model.driver import SimPyDriver


def test_a_simpy_request_ignores_the_scope_it_was_started_in() -> None:
    env = simpy.Environment(initial_time=5.0)
    driver = SimPyDriver(env, Pipeline(RetryConfig(max_attempts=2), rng=random.Random(1)))

    def attempt(step: Attempt) -> simpy.Event:
        return env.timeout(0.1, value=Outcome.success())

    with deadline_scope(Deadline(1.0)):  # long over at simulated time 5
        proc = driver.call(attempt)
        env.run()
    assert isinstance(proc.value, Done), f"the scope reached the simulation: {proc.value!r}"


def test_a_run_inside_a_scope_equals_the_run_outside() -> None:
    scenario = small(duration=6.0, warmup=1.0, faults=())
    outside = run(scenario, 3).summary
    with deadline_scope(Deadline(2.0)):
        inside = run(scenario, 3).summary
    assert inside["failures"].get("deadline_exceeded", 0) == 0
    assert inside == outside
