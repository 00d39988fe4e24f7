"""One simulation run: build the model from a scenario, run it, hand back a ``RunResult``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from simpy.core import StopSimulation

from resilience.breaker.state import BreakerState
from resilience.classify import Classifier
from resilience.execution_policy import ExecutionPolicy
from resilience.pipeline import Pipeline
from sim.model.arrivals import install
from sim.model.client import GroupRT
from sim.model.driver import call_later
from sim.model.faults import schedule_faults
from sim.model.instances import InstanceRandom, Instances, StreamKey
from sim.model.links import LinkRT
from sim.model.service import ServiceRT
from sim.model.streams import Streams
from sim.observe.breakers import BreakerTracker
from sim.observe.record import Recorder
from sim.observe.result import RunResult
from sim.scenario.spec import Scenario
from sim.stepper import advance

__all__ = ["run", "run_labels"]


def _generators(streams: Streams, key: str) -> Callable[[str], np.random.Generator]:
    """The generator of ``key``'s stream for a purpose."""

    def generator(purpose: str) -> np.random.Generator:
        return streams.generator(key, purpose)

    return generator


class _StateReport:
    """Instance ``i``'s breaker state listener: reports each transition to the group's tracker."""

    __slots__ = ("i", "tracker")

    def __init__(self, tracker: BreakerTracker, i: int) -> None:
        self.tracker = tracker
        self.i = i

    def __call__(self, _name: str, old: BreakerState, new: BreakerState, now: float) -> None:
        self.tracker.change(self.i, old.value, new.value, now)


def _instances(sc: Scenario, name: str, seed: int, tracker: BreakerTracker | None) -> Instances:
    """The group's instances, each pipeline (retry, breaker, budget, jitter stream) built on first use.

    Instance ``i``'s streams are those of ``Streams(seed).uniform(f"clients.{name}#{i}", purpose)``.
    """
    cfg = sc.clients[name]
    edge = f"{name}->{cfg.target}"
    classifier = Classifier(cfg.classifier)
    prefix = f"clients.{name}#"
    jitter, breaker_key, budget_key = (StreamKey(seed, prefix, p) for p in ("jitter", "breaker", "budget"))
    open_jitter = cfg.breaker is not None and cfg.breaker.wait_jitter > 0  # a breaker draws for nothing else
    policy = ExecutionPolicy.from_retry(cfg.retry, edge)

    def build(i: int, report: bool = True) -> Pipeline:
        breaker = None
        if cfg.breaker is not None:
            from resilience.breaker import CircuitBreaker

            assert tracker is not None
            breaker = CircuitBreaker(
                cfg.breaker,
                name=edge,
                rng=InstanceRandom(breaker_key, i) if open_jitter else None,
                state_listeners=[_StateReport(tracker, i)] if report else (),
            )
        budget = None if cfg.budget is None else cfg.budget.build(InstanceRandom(budget_key, i), name=edge)
        pipeline = Pipeline(
            cfg.retry,
            breaker=breaker,
            budget=budget,
            classifier=classifier,
            rng=InstanceRandom(jitter, i),
            name=edge,
        )
        pipeline.policy = policy  # the frozen policy it made from the same retry config, shared
        return pipeline

    return Instances(cfg.instances, build, lambda: build(-1, report=False))


def run_labels(scenario: Scenario, seed: int, run_label: str | None = None) -> tuple[tuple[str, str], ...]:
    """Labels on every series of a run: ``run`` (default ``<scenario>-<seed>``), ``scenario``, ``seed``."""
    if run_label is not None and not (run_label.strip() and run_label.isprintable()):
        raise ValueError(f"run_label={run_label!r}: must be a non-empty string of printable characters")
    label = f"{scenario.name}-{seed}" if run_label is None else run_label
    return (("run", label), ("scenario", scenario.name), ("seed", str(seed)))


def run(
    scenario: Scenario, seed: int = 0, *, progress: bool = False, run_label: str | None = None
) -> RunResult:
    """Simulate ``scenario`` with run seed ``seed``; its series carry ``run_labels(...)``."""
    sc = scenario
    labels = run_labels(sc, seed, run_label)
    if sc.multi_tier:  # services calling services: the multi-tier runtime (sim/graph)
        from sim.graph.engine import run_graph

        return run_graph(sc, seed, labels, progress=progress)
    env = simpy.Environment()
    streams = Streams(seed)
    rec = Recorder(env, sc.duration, sc.bin_width, sc.scrape_interval, labels)
    services = {
        name: ServiceRT(
            env,
            name,
            cfg,
            streams.generator(f"services.{name}", "service"),
            streams.generator(f"services.{name}", "errors"),
            sc.warmup,
        )
        for name, cfg in sc.services.items()
    }
    links = {
        name: LinkRT(
            name,
            cfg,
            streams.generator(f"links.{name}", "latency"),
            streams.generator(f"links.{name}", "loss"),
        )
        for name, cfg in sc.links.items()
    }
    rec.services = list(services.values())
    fixed_groups = [n for n, g in sc.clients.items() if g.workload.kind == "fixed"]
    pending = [len(fixed_groups)]
    stopped = [False]

    def stop(_ev: object) -> None:
        raise StopSimulation("all fixed requests done")

    def group_done() -> None:
        pending[0] -= 1
        if pending[0] == 0 and len(fixed_groups) == len(sc.clients):
            stopped[0] = True
            call_later(env, 0.0, stop)

    groups: dict[str, GroupRT] = {}
    for name, cfg in sc.clients.items():
        tracker = BreakerTracker(cfg.instances, sc.warmup) if cfg.breaker is not None else None
        if tracker is not None:
            rec.breakers[name] = tracker
        g = GroupRT(
            env,
            name,
            cfg,
            services[cfg.target],
            None if cfg.link is None else links[cfg.link],
            _instances(sc, name, seed, tracker),
            Classifier(cfg.classifier),
            sc.warmup,
            sc.slo_latency,
            rec,
        )
        groups[name] = g
        rec.groups.append(g)
    for name, g in groups.items():
        install(
            env,
            g,
            sc.clients[name].workload,
            _generators(streams, f"clients.{name}"),
            group_done,
        )
    schedule_faults(env, sc, services, links)
    for s in services.values():
        call_later(env, sc.warmup, s.mark_warmup)
    rec.start()
    stepped = advance(env, sc.duration, progress=progress, name=sc.name)
    end = env.now
    rec.cut_bin(end)
    rec.finish()
    if rec.samples.last < end:
        rec.scrape_now(end)
    for tr in rec.breakers.values():
        tr.finish(end)
    return RunResult(sc, seed, end, groups, services, links, rec, stepped)
