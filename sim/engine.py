"""One simulation run: build the model from a scenario, run it, hand back a ``RunResult``."""

from __future__ import annotations

from typing import Any

import simpy
from simpy.core import StopSimulation

from resilience.classify import Classifier
from resilience.pipeline import Pipeline

from .arrivals import install
from .client import GroupRT
from .driver import call_later
from .network import LinkRT
from .record import BreakerTracker, Recorder
from .result import RunResult
from .scenario import CapacityDrop, ErrorBurst, LatencySpike, Outage, Partition, Scenario
from .service import ServiceRT
from .stepper import advance
from .streams import Streams

__all__ = ["run"]


def _pipelines(sc: Scenario, name: str, streams: Streams, tracker: BreakerTracker | None) -> list[Pipeline]:
    cfg = sc.clients[name]
    edge = f"{name}→{cfg.target}"
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


def _faults(
    env: simpy.Environment, sc: Scenario, services: dict[str, ServiceRT], links: dict[str, LinkRT]
) -> None:
    for f in sc.faults:
        svc, link = services.get(f.target), links.get(f.target)

        def on(_ev: object, f: Any = f, svc: ServiceRT | None = svc, link: LinkRT | None = link) -> None:
            _apply(f, svc, link, +1)

        def off(_ev: object, f: Any = f, svc: ServiceRT | None = svc, link: LinkRT | None = link) -> None:
            _apply(f, svc, link, -1)

        call_later(env, f.start, on)
        call_later(env, f.end, off)


def _apply(f: Any, svc: ServiceRT | None, link: LinkRT | None, sign: int) -> None:
    if isinstance(f, Outage) and svc is not None:
        svc.outages += sign
    elif isinstance(f, CapacityDrop) and svc is not None:
        if sign > 0:
            svc.drops.append(f.workers)
        else:
            svc.drops.remove(f.workers)
        svc.set_capacity()
    elif isinstance(f, LatencySpike):
        if svc is not None:
            svc.factor = svc.factor * f.factor if sign > 0 else svc.factor / f.factor
        if link is not None:
            link.extra = max(0.0, link.extra + sign * f.add)
    elif isinstance(f, ErrorBurst) and svc is not None:
        if sign > 0:
            svc.bursts.append(f.error)
        else:
            svc.bursts.remove(f.error)
    elif isinstance(f, Partition) and link is not None:
        link.partitioned += sign


def run(scenario: Scenario, seed: int = 0, *, progress: bool = False) -> RunResult:
    """Simulate ``scenario`` with run seed ``seed``."""
    sc = scenario
    env = simpy.Environment()
    streams = Streams(seed)
    rec = Recorder(env, sc.duration, sc.bin_width, sc.scrape_interval)
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
            lambda purpose, name=name: streams.generator(f"clients.{name}", purpose),
            group_done,
        )
    _faults(env, sc, services, links)
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
