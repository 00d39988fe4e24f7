"""One simulation run: build the model from a scenario, run it, hand back a ``RunResult``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from simpy.core import StopSimulation

from resilience.classify import Classifier
from resilience.pipeline import Pipeline
from sim.model.arrivals import install
from sim.model.client import GroupRT
from sim.model.driver import call_later
from sim.model.faults import schedule_faults
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


def _pipelines(sc: Scenario, name: str, streams: Streams, tracker: BreakerTracker | None) -> list[Pipeline]:
    cfg = sc.clients[name]
    edge = f"{name}->{cfg.target}"
    classifier = Classifier(cfg.classifier)
    out = []
    for i in range(cfg.instances):
        key = f"clients.{name}#{i}"
        breaker = None
        if cfg.breaker is not None:
            from resilience.breaker import CircuitBreaker

            assert tracker is not None
            breaker = CircuitBreaker(
                cfg.breaker,
                name=edge,
                rng=streams.uniform(key, "breaker"),
                state_listeners=[tracker.listener(i)],
            )
        budget = None if cfg.budget is None else cfg.budget.build(streams.uniform(key, "budget"), name=edge)
        out.append(
            Pipeline(
                cfg.retry,
                breaker=breaker,
                budget=budget,
                classifier=classifier,
                rng=streams.uniform(key, "jitter"),
                name=edge,
            )
        )
    return out


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
            _pipelines(sc, name, streams, tracker),
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
