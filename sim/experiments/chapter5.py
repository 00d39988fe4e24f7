"""The seed's chapter 5 pinned: a four-layer defence under a flash-sale peak, run and tabled.

Runs the static and defended configurations over seeds (and each ±20% one-at-a-time variant), in a
process pool, and builds the tables of ``sim.experiments.chapter5_tables``: calibration, per-layer p99
in the normal and fault periods, recovery with its paired difference, sensitivity, speed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.experiments.chapter5_run import FLOOD_GROUP, USER_GROUP, flood_schedule, measure, stall
from sim.experiments.chapter5_tables import (
    LAYERS,
    calibration_table,
    fmean,
    layer_table,
    markdown,
    paired_recovery,
    recovery_table,
)
from sim.scenario.spec import Scenario
from sim.scenario.workloads import Poisson

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONFIGS",
    "SENSITIVITY",
    "Chapter5Tables",
    "run_rows",
    "scaled",
    "summarise",
    "tables",
    "variants",
]

# -- variants ------------------------------------------------------------------------------------------

SENSITIVITY = 0.2


def _poisson(scenario: Scenario) -> Poisson:
    w = scenario.clients[USER_GROUP].workload
    if not isinstance(w, Poisson):
        raise ValueError(f"{scenario.name}: clients.{USER_GROUP}.workload: must be poisson")
    return w


def variants(scenario: Scenario, rel: float = SENSITIVITY) -> list[tuple[str, str, Scenario]]:
    """One-at-a-time variants: (factor, level such as "-20%", scenario) for stall latency, stall
    duration, flood rate and load, each scaled by ``1 - rel`` and ``1 + rel``."""
    s = stall(scenario)
    fault = f"faults[{scenario.faults.index(s)}]"
    steps, rate = flood_schedule(scenario).steps, _poisson(scenario).rate
    out = []
    for sign, k in (("-", 1.0 - rel), ("+", 1.0 + rel)):
        level = f"{sign}{rel:.0%}"
        changes: list[tuple[str, dict[str, Any]]] = [
            ("stall latency", {f"{fault}.add": s.add * k}),
            ("stall duration", {f"{fault}.duration": s.duration * k}),
            ("flood rate", {f"clients.{FLOOD_GROUP}.workload.steps": [[t, r * k] for t, r in steps]}),
            ("load", {f"clients.{USER_GROUP}.workload.rate": rate * k}),
        ]
        out += [(factor, level, scenario.with_(**change)) for factor, change in changes]
    return out


# -- the tables ------------------------------------------------------------------------------------------

CONFIGS = ("static", "defended")


@dataclass
class Chapter5Tables:
    """Every chapter-5 table as a DataFrame, the raw runs, and the paired recovery difference."""

    runs: pd.DataFrame
    calibration: pd.DataFrame
    layers: pd.DataFrame
    recovery: pd.DataFrame
    paired: dict[str, float]
    sensitivity: pd.DataFrame | None
    speed: pd.DataFrame
    cap: float

    def markdown(self) -> str:
        """All tables as Markdown sections."""
        d = self.paired
        parts = [
            "### Calibration: normal-period p99 of time in each layer (ms)",
            markdown(self.calibration),
            "### Per-layer p99 of time in the layer (ms), normal and fault periods",
            markdown(self.layers),
            "### Recovery time (s) after the DB stall ends",
            markdown(self.recovery),
            f"Paired by seed, static - defended: {d['mean']:.1f} s "
            f"(95% interval {d['low']:.1f} … {d['high']:.1f}, n = {d['n']:.0f}); "
            f"a run that never recovers counts as {self.cap:.0f} s.",
        ]
        if self.sensitivity is not None:
            parts += ["### Sensitivity: recovery (s), one factor at a time ±20%", markdown(self.sensitivity)]
        parts += ["### Speed", markdown(self.speed, digits=2)]
        return "\n\n".join(parts) + "\n"

    def write(self, out: str | Path) -> Path:
        """Write ``chapter5.md`` and ``runs.csv`` into ``out``; returns the Markdown file's path."""
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        self.runs.to_csv(d / "runs.csv", index=False)
        path = d / "chapter5.md"
        path.write_text(self.markdown(), encoding="utf-8")
        return path


def run_rows(
    jobs: Sequence[tuple[Mapping[str, Any], Scenario, int]],
    *,
    workers: int = 2,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Run every (labels, scenario, seed) job with :func:`measure` on a process pool of ``workers``
    (or ``executor``); one row per job, the labels first."""
    import pandas as pd

    own = executor is None and workers > 1
    ex = ProcessPoolExecutor(max_workers=workers) if own else executor
    try:
        if ex is None:
            results = [measure(sc, seed) for _, sc, seed in jobs]
        else:
            futures = [ex.submit(measure, sc, seed) for _, sc, seed in jobs]
            results = [f.result() for f in futures]
    finally:
        if own and ex is not None:
            ex.shutdown(cancel_futures=True)
    return pd.DataFrame([{**labels, **r} for (labels, _, _), r in zip(jobs, results, strict=True)])


def _layer_means(runs: pd.DataFrame, period: str) -> dict[str, float]:
    return {layer: fmean(runs[f"{period}_{layer}_p99_ms"].tolist()) for layer in LAYERS}


def tables(
    static: Scenario,
    defended: Scenario,
    *,
    seeds: Sequence[int] = range(5),
    sensitivity_seeds: Sequence[int] | None = (0,),
    workers: int = 2,
    executor: Executor | None = None,
    scale: float = 1.0,
) -> Chapter5Tables:
    """Run both configurations over ``seeds`` (and every ±20% variant over ``sensitivity_seeds``,
    None: no sensitivity table) at ``scale`` times the files' scale (:func:`scaled`), and build the
    tables."""

    def at_scale(sc: Scenario) -> Scenario:
        return sc if scale == 1.0 else scaled(sc, scale)

    jobs: list[tuple[Mapping[str, Any], Scenario, int]] = []
    for config, sc in (("static", static), ("defended", defended)):
        jobs += [({"config": config, "factor": "", "level": ""}, at_scale(sc), s) for s in seeds]
        if sensitivity_seeds is not None:
            for factor, level, v in variants(sc):
                jobs += [
                    ({"config": config, "factor": factor, "level": level}, at_scale(v), s)
                    for s in sensitivity_seeds
                ]
    runs = run_rows(jobs, workers=workers, executor=executor)
    return summarise(runs, cap=static.duration - stall(static).end)


def summarise(runs: pd.DataFrame, *, cap: float) -> Chapter5Tables:
    """The tables from run rows (``config``, ``factor``, ``level`` and the columns of ``measure``);
    ``cap`` is the time from the stall's end to the horizon (a run that never recovers counts it)."""
    import pandas as pd

    base = runs[runs.factor == ""]
    st, de = base[base.config == "static"], base[base.config == "defended"]
    normal = _layer_means(st, "normal")
    layers = layer_table(normal, _layer_means(st, "fault"))
    layers["defended fault p99"] = [_layer_means(de, "fault")[layer] for layer in LAYERS]
    sens = None
    if (runs.factor != "").any():
        rows = []
        for factor in ("stall latency", "stall duration", "flood rate", "load"):
            for level in (f"-{SENSITIVITY:.0%}", f"+{SENSITIVITY:.0%}"):
                part = runs[(runs.factor == factor) & (runs.level == level)]
                row: dict[str, Any] = {"factor": factor, "level": level}
                for config in CONFIGS:
                    mine = part[part.config == config]
                    vals = [
                        cap if v is None or math.isnan(v) else float(v)
                        for v, cap in zip(mine.recovery_s, mine.cap_s, strict=True)
                    ]
                    row[f"{config} runs"] = len(vals)
                    row[f"{config} (s)"] = fmean(vals)
                    row[f"{config} never"] = sum(1 for v in mine.recovery_s if v is None or math.isnan(v))
                rows.append(row)
        sens = pd.DataFrame(rows)
    speed = pd.DataFrame(
        [
            {
                "configuration": config,
                "runs": int((runs.config == config).sum()),
                "wall s per simulated s": fmean((part.wall_s / part.sim_s).tolist()),
                "events/s": fmean((part.events / part.wall_s).tolist()),
            }
            for config in CONFIGS
            for part in [runs[runs.config == config]]
        ]
    )
    return Chapter5Tables(
        runs=runs,
        calibration=calibration_table(normal),
        layers=layers,
        recovery=recovery_table(base, cap=cap),
        paired=paired_recovery(base, cap=cap),
        sensitivity=sens,
        speed=speed,
        cap=cap,
    )


def scaled(scenario: Scenario, k: float) -> Scenario:
    """The scenario at ``k`` times its scale: user rate and IPs, flood IPs (each IP's rate unchanged),
    gateway threads and queue, the data layer's pools, L4 connection limits and the cache's keys.
    Per-request times, timeouts and breaker windows are unchanged (a short form for tests)."""
    steps = flood_schedule(scenario).steps
    sv = scenario.services
    web, flood = scenario.clients[USER_GROUP], scenario.clients[FLOOD_GROUP]
    conns = sv["l4"].gate.connections

    def n(x: int) -> int:
        return max(1, round(x * k))

    return scenario.with_(
        **{
            f"clients.{USER_GROUP}.workload.rate": _poisson(scenario).rate * k,
            f"clients.{USER_GROUP}.ips": n(web.ips),
            f"clients.{FLOOD_GROUP}.ips": n(flood.ips),
            f"clients.{FLOOD_GROUP}.workload.steps": [[t, r * n(flood.ips) / flood.ips] for t, r in steps],
            "services.gateway.workers": n(sv["gateway"].workers),
            "services.gateway.queue": n(sv["gateway"].queue),
            "services.db_primary.workers": n(sv["db_primary"].workers),
            "services.db_replica.workers": n(sv["db_replica"].workers),
            "services.l4.gate.connections.limit": n(conns.limit),
            "services.l4.gate.connections.syn_backlog": n(conns.syn_backlog),
            "services.cache.cache.keys": n(sv["cache"].cache.keys),
        }
    )
