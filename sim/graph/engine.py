"""One multi-tier run: build tiers, edges and client groups from a scenario, run, return the result."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np
import simpy
from simpy.core import StopSimulation

from resilience.classify import Classifier
from resilience.pipeline import Pipeline
from sim.graph.edge import EdgeRT, EdgeStats
from sim.graph.entry import Entry, GraphGroupRT, Tracer
from sim.graph.late import LateAnswerTier, late_targets
from sim.graph.result import GraphResult
from sim.graph.tier import TierRT
from sim.model.arrivals import install
from sim.model.driver import call_later
from sim.model.faults import schedule_faults
from sim.model.links import LinkRT
from sim.model.service import ServiceRT
from sim.model.streams import Streams
from sim.observe.breakers import BreakerTracker
from sim.observe.record import Recorder
from sim.scenario.spec import Scenario
from sim.stepper import advance

__all__ = ["GC_GEN0", "Model", "build", "run_graph", "run_model"]

Generators = Callable[[str, str], Any]  # (component, purpose) -> a numpy Generator


def _pipeline(
    cfg: Any, name: str, key: str, streams: Streams, tracker: BreakerTracker | None, i: int
) -> Pipeline:
    """The real pipeline of one client instance or one caller replica of an edge."""
    breaker = None
    if cfg.breaker is not None:
        from resilience.breaker import CircuitBreaker

        listeners = [] if tracker is None else [tracker.listener(i)]
        breaker = CircuitBreaker(
            cfg.breaker, name=name, rng=streams.uniform(key, "breaker"), state_listeners=listeners
        )
    budget = None if cfg.budget is None else cfg.budget.build(streams.uniform(key, "budget"), name=name)
    return Pipeline(
        cfg.retry,
        breaker=breaker,
        budget=budget,
        classifier=Classifier(cfg.classifier),
        rng=streams.uniform(key, "jitter"),
        name=name,
    )


class Model:
    """The run-time graph of a scenario: tiers, edges (per caller replica), client groups."""

    def __init__(self, sc: Scenario, seed: int, rec: Recorder, generators: Generators | None = None) -> None:
        self.sc = sc
        self.seed = seed
        self.rec = rec
        self.env = env = rec.env
        self.warmup = sc.warmup
        self.streams = streams = Streams(seed)
        gen: Generators = generators or streams.generator
        self.tracer = Tracer()
        self.links = {
            n: LinkRT(n, cfg, gen(f"links.{n}", "latency"), gen(f"links.{n}", "loss"))
            for n, cfg in sc.links.items()
        }
        callers = {e.caller for e in sc.edges.values()}
        late = late_targets(sc)  # called by a cache tier that fills from late answers
        self.tiers: dict[str, TierRT] = {}
        for name, cfg in sc.services.items():
            role = cfg.timeout_source or ("gateway" if name in callers else "backend")
            self.tiers[name] = self._tier(env, name, cfg, role, gen, name in late)
        self.edge_stats: dict[str, EdgeStats] = {}
        self.edge_breakers: dict[str, BreakerTracker] = {}
        self.health: list[Any] = []
        self.compensation: dict[str, list[Any]] = {}  # edge -> its callers' compensation queues
        self.defences: Any = None  # the installed run-time defences (sim/graph/defences.py)
        for ename, e in sc.edges.items():
            self._edge(ename, e, gen)
        self.groups: dict[str, GraphGroupRT] = {}
        ip_base = 0
        for gname, g in sc.clients.items():
            tracker = BreakerTracker(g.instances, sc.warmup) if g.breaker is not None else None
            if tracker is not None:
                rec.breakers[gname] = tracker
            edge = f"{gname}->{g.target}"
            pipelines = [
                _pipeline(g, edge, f"clients.{gname}#{i}", streams, tracker, i) for i in range(g.instances)
            ]
            link = None if g.link is None else self.links[g.link]
            grp = GraphGroupRT(
                env,
                gname,
                g,
                cast(Any, None),  # its Entry, set below (the entry needs the group)
                link,
                pipelines,
                Classifier(g.classifier),
                sc.warmup,
                sc.slo_latency,
                rec,
            )
            grp.setup(self.tracer)
            tier = self.tiers[g.target]
            u = streams.uniform(f"clients.{gname}", "routes")
            bal = self._balancer(tier, f"clients.{gname}", gen)
            grp.service = Entry(
                grp, tier, dict(g.routes), g.ips, ip_base, g.new_connections, u.random, bal, self.tracer
            )
            ip_base += g.ips
            self.groups[gname] = grp
            rec.groups.append(grp)
        self.replicas: dict[str, ServiceRT] = {r.name: r for t in self.tiers.values() for r in t.replicas}
        rec.services = list(self.replicas.values())

    def _tier(
        self, env: simpy.Environment, name: str, cfg: Any, role: str, gen: Generators, late: bool = False
    ) -> TierRT:
        def gens(i: int, purpose: str) -> Any:
            return gen(f"services.{name}" if cfg.replicas == 1 else f"services.{name}#{i}", purpose)

        cls = LateAnswerTier if late else TierRT
        tier = cls(env, self.warmup, name, cfg, role, gens, self.sc.duration)
        if cfg.gate is not None and cfg.gate.active:
            from sim.model.gates import GateRT

            tier.gates = [
                GateRT(cfg.gate, name=f"{name}#{i}", rng=gens(i, "gate")) for i in range(cfg.replicas)
            ]
        if cfg.cache is not None:
            from sim.model.cache import cache_rt

            salt = 0  # the seed of per-request keys, one per tier (every replica asks the same key)
            if cfg.cache.key_per == "request":
                salt = int(gen(f"services.{name}", "request_keys").integers(0, 2**63))
            tier.caches = [cache_rt(cfg.cache, gens(i, "cache"), salt) for i in range(cfg.replicas)]
        if cfg.side_effects is not None:
            from sim.model.side_effects import SideEffectLedger

            tier.ledger = SideEffectLedger(cfg.side_effects, name=name)
        if cfg.flood is not None:
            from sim.model.flood import FloodDetector

            tier.detector = FloodDetector(cfg.flood)
        tags = {r.tag: r.timeout for r in cfg.routes.values() if r.tag is not None}
        if tags:
            from resilience.timeouts.tags import TagTimeouts, TimeoutRegistry

            tier.registry = TimeoutRegistry(TagTimeouts(default=max(tags.values()), tags=tags))
        return tier

    def _balancer(self, target: TierRT, key: str, gen: Generators) -> Any:
        """A caller's balancer over ``target``'s replicas (None for a single replica)."""
        if target.cfg.replicas == 1:
            return None
        from sim.model.balancers import BalancerRT
        from sim.scenario.balancing import BalancerConfig

        cfg = target.cfg.balancer or BalancerConfig()
        bal = BalancerRT(cfg, target.cfg.replicas, gen(key, "balancer"))
        if cfg.health_check is not None:
            from sim.model.health import HealthChecker

            reps = target.replicas
            self.health.append(HealthChecker(self.env, cfg.health_check, bal, lambda i: reps[i].outages == 0))
        return bal

    def _edge(self, ename: str, e: Any, gen: Generators) -> None:
        caller, target = self.tiers[e.caller], self.tiers[e.target]
        stats = self.edge_stats[ename] = EdgeStats()
        n = caller.cfg.replicas
        tracker = BreakerTracker(n, self.warmup) if e.breaker is not None else None
        if tracker is not None:
            self.edge_breakers[ename] = tracker
        link = None if e.link is None else self.links[e.link]
        for i in range(n):
            key = f"edges.{ename}#{i}"
            pipe = _pipeline(e, ename, key, self.streams, tracker, i)
            bal = self._balancer(target, key, gen)
            edge = caller.edges[i][ename] = EdgeRT(ename, e, caller, i, target, link, pipe, bal, stats)
            if e.compensation is not None:
                from sim.model.compensation import CompensationQueue

                edge.compensation = CompensationQueue(e.compensation)
                self.compensation.setdefault(ename, []).append(edge.compensation)


def build(
    sc: Scenario, seed: int, labels: tuple[tuple[str, str], ...] = (), generators: Generators | None = None
) -> Model:
    """The model of ``sc`` on a fresh environment, arrivals and faults scheduled, not yet run.

    ``generators(component, purpose)`` replaces the seeded streams (tests script the draws).
    """
    env = simpy.Environment()
    rec = Recorder(env, sc.duration, sc.bin_width, sc.scrape_interval, labels)
    model = Model(sc, seed, rec, generators)
    from sim.graph.series import install as tier_series

    tier_series(model)  # the tiers' samples join every scrape (read at scrape time only)
    if sc.defences is not None:
        model.defences = sc.defences.install(model)
    gen = generators or model.streams.generator
    fixed = [n for n, g in sc.clients.items() if g.workload.kind == "fixed"]
    pending = [len(fixed)]

    def stop(_ev: object) -> None:
        raise StopSimulation("all fixed requests done")

    def group_done() -> None:
        pending[0] -= 1
        if pending[0] == 0 and len(fixed) == len(sc.clients):
            call_later(env, 0.0, stop)

    for name, grp in model.groups.items():

        def generator(purpose: str, key: str = f"clients.{name}") -> np.random.Generator:
            return cast(np.random.Generator, gen(key, purpose))

        install(env, grp, sc.clients[name].workload, generator, group_done)
    targets: dict[str, Any] = {}
    for tname, tier in model.tiers.items():
        targets[tname] = tier.replicas
        for i, rep in enumerate(tier.replicas):
            targets[f"{tname}#{i}"] = [rep]
    schedule_faults(env, sc, targets, model.links)
    for r in model.replicas.values():
        call_later(env, sc.warmup, r.mark_warmup)
    return model


GC_GEN0 = 200_000
"""Allocations between young-generation collections during a run (the default 700 makes the
collector walk the many live requests of a busy graph over and over: most of the run's time; the
chapter-5 model leaves no cyclic garbage, and at 50,000 collections still took 15% of a run)."""


@contextmanager
def _rare_collections() -> Iterator[None]:
    """Collect garbage rarely while the run steps; the previous thresholds come back afterwards."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_GEN0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def run_graph(
    sc: Scenario, seed: int, labels: tuple[tuple[str, str], ...] = (), *, progress: bool = False
) -> GraphResult:
    """Simulate the multi-tier scenario ``sc`` with run seed ``seed``."""
    return run_model(build(sc, seed, labels), progress=progress)


def run_model(model: Model, *, progress: bool = False) -> GraphResult:
    """Run a model made by ``build`` (parts may be added to it first) to its scenario's end."""
    sc, seed = model.sc, model.seed
    rec = model.rec
    env = model.env
    rec.start()
    with _rare_collections():
        stepped = advance(env, sc.duration, progress=progress, name=sc.name)
    end = env.now
    rec.cut_bin(end)
    rec.finish()
    if rec.samples.last < end:
        rec.scrape_now(end)
    for tr in rec.breakers.values():
        tr.finish(end)
    for tr in model.edge_breakers.values():
        tr.finish(end)
    return GraphResult(sc, seed, end, model, rec, stepped)
