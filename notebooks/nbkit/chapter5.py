"""The four-layer-defence notebook: a scaled chapter-5 model to play with, and the full model's tables.

``small_scenario`` shrinks ``scenarios/chapter5/{static,defended}.toml`` (the seed's chapter 5 at 1/100 of
its peak) by ``SCALE`` more with ``sim.experiments.chapter5.scaled`` and compresses the timeline; the
defences can be switched one by one. ``run_layers`` runs it and records, second by second, the p99 of
time spent in each layer and the user group's offered requests. ``load_full`` reads the full model's
runs written by ``benchmarks/chapter5.py --out notebooks/data/chapter5`` (or its default ``out/chapter5``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim import Scenario, load_scenario
from sim.experiments.chapter5 import scaled
from sim.experiments.chapter5_run import LAYER_TIERS, USER_GROUP, measure, stall
from sim.experiments.chapter5_tables import (
    LAYERS,
    SEED_P99_MS,
    SEED_RECOVERY_S,
    calibration_table,
    fmean,
    layer_table,
    paired_recovery,
    recovery_table,
    recovery_time,
)
from sim.graph.engine import build, run_model
from sim.observe.histogram import LogHistogram

from .live import test_mode

__all__ = [
    "DEFENCES",
    "FULL_DIRS",
    "LAYERS",
    "SCALE",
    "SEED_RECOVERY_S",
    "TIMELINE",
    "Run",
    "full_tables",
    "load_full",
    "period_p99_ms",
    "recompute_full",
    "run_layers",
    "seed_table",
    "small_scenario",
]

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios" / "chapter5"
FULL_DIRS = (ROOT / "notebooks" / "data" / "chapter5", ROOT / "out" / "chapter5")
"""Where ``load_full`` looks for ``runs.csv`` (the first that has one)."""

SCALE = 0.01
"""Of the 1/100 scenario files: 1/10,000 of the seed's 1.2 M requests/s peak, 120 requests/s."""

TIMELINE: dict[str, Any] = {
    "duration": 30.0,
    "warmup": 5.0,
    "flood": (8.0, 18.0),
    "stall": (10.0, 6.0),
    "ttl": 5.0,
}
"""The compressed timeline (the files': 180 s, warm-up 30 s, flood 55-90 s, stall 60-80 s, cache TTL
30 s): warm-up of one cache TTL, the flood starting 2 s before the stall and ending 2 s after it."""

TEST_SCALE, TEST_DURATION = 0.005, 24.0
"""In test mode (``RWB_NOTEBOOK_TEST=1``): half the scale (60 requests/s) and the run ends 8 s after
the stall (room for the 5 s recovery window)."""

DEFENCES = ("flood_diversion", "timeout_tuner", "fallbacks")
"""The defences of the defended configuration, each switchable on its own."""

SEED_FLOOD_PER_IP = 600.0  # new connections per second of one flood IP in the seed


def small_scenario(
    config: str = "defended",
    *,
    flood_diversion: bool = True,
    timeout_tuner: bool = True,
    fallbacks: bool = True,
    scale: float | None = None,
) -> Scenario:
    """The chapter-5 model at ``scale`` of the 1/100 files, on the compressed ``TIMELINE``.

    ``static`` is ``static.toml``; ``defended`` is ``defended.toml`` with each defence switched by its
    flag. The flood keeps its share of the load (as many flood requests as user requests while it
    lasts) and the flood detector's threshold keeps its ratio to one flood IP's rate (500 : 600).
    ``scale`` defaults to ``SCALE`` (``TEST_SCALE`` and a shorter run in test mode)."""
    if scale is None:
        scale = TEST_SCALE if test_mode() else SCALE
    if config not in ("static", "defended"):
        raise ValueError(f"config={config!r}: must be static or defended")
    if not 0 < scale <= 1:
        raise ValueError(f"scale={scale!r}: must be in (0, 1]")
    sc = scaled(load_scenario(SCENARIOS / f"{config}.toml"), scale)
    flood_ips = sc.clients["flood"].ips
    users = sc.clients[USER_GROUP].workload.rate
    per_ip = users / flood_ips
    t = TIMELINE
    (f0, f1), (s0, slen) = t["flood"], t["stall"]
    fault = sc.faults.index(stall(sc))
    changes: dict[str, Any] = {
        "duration": TEST_DURATION if test_mode() else t["duration"],
        "warmup": t["warmup"],
        "services.cache.cache.ttl": t["ttl"],
        f"faults[{fault}].start": s0,
        f"faults[{fault}].duration": slen,
        "clients.flood.workload.steps": [[0.0, 0.0], [f0, per_ip * flood_ips], [f1, 0.0]],
    }
    # the gateway's threads in one replica: four pools of one or two threads would queue far longer than
    # the seed's pools of 200 at the same utilisation (one pool of 8 is closer)
    full = load_scenario(SCENARIOS / f"{config}.toml").services["gateway"]
    changes["services.gateway.replicas"] = 1
    changes["services.gateway.workers"] = max(1, round(full.workers * full.replicas * scale))
    changes["services.gateway.queue"] = max(1, round(full.queue * full.replicas * scale))
    if config == "defended":
        changes["defences.flood.threshold"] = max(1, round(per_ip * 500.0 / SEED_FLOOD_PER_IP))
        if not flood_diversion:
            changes["defences.flood"] = None
        if not timeout_tuner:
            changes["defences.tuners"] = []
        if not fallbacks:
            changes.update(
                {
                    "edges.gw_cache.fallback": None,
                    "edges.gw_checkout_write.fallback": None,
                    "edges.gw_checkout_write.compensation": None,
                }
            )
    return sc.with_(**changes)


@dataclass
class Run:
    """One run of the small model: the result, the p99 (ms) of time in each layer per second (of the
    times that ended in it), the user group's offered requests and clean goodput per second, and the
    recovery time after the stall (None: not within the run)."""

    scenario: Scenario
    result: Any
    layer_p99_ms: pd.DataFrame
    offered: list[int]
    clean_goodput: list[int]
    recovery_s: float | None
    snaps: list[dict[str, dict[int, int]]]


def _p99_ms(after: dict[int, int], before: dict[int, int]) -> float:
    h = LogHistogram()
    for b, k in after.items():
        d = k - before.get(b, 0)
        if d:
            h.counts[b] = d
            h.n += d
    h.lo, h.hi = 0.0, math.inf
    return h.quantile(0.99) * 1000.0 if h.n else math.nan


def run_layers(scenario: Scenario, seed: int = 0) -> Run:
    """Run ``scenario`` and record, at every whole second, each layer's time-in-layer histogram."""
    from sim.engine import run_labels

    model = build(scenario, seed, run_labels(scenario, seed))
    env, grp = model.env, model.groups[USER_GROUP]
    snaps: list[dict[str, dict[int, int]]] = []
    offered_at: list[int] = []

    def snap(_ev: object) -> None:
        merged: dict[str, dict[int, int]] = {}
        for layer, tiers in LAYER_TIERS.items():
            counts: dict[int, int] = {}
            for name in tiers:
                for b, k in model.tiers[name].in_tier.counts.items():
                    counts[b] = counts.get(b, 0) + k
            merged[layer] = counts
        snaps.append(merged)
        offered_at.append(grp.offered)
        if env.now + 1.0 <= scenario.duration:
            env.timeout(1.0).callbacks.append(snap)

    env.timeout(0.0).callbacks.append(snap)
    result = run_model(model)
    rows = {
        layer: [_p99_ms(snaps[k + 1][layer], snaps[k][layer]) for k in range(len(snaps) - 1)]
        for layer in LAYERS
    }
    p99 = pd.DataFrame(rows, index=pd.RangeIndex(1, len(snaps), name="second"))
    offered = [offered_at[k + 1] - offered_at[k] for k in range(len(offered_at) - 1)]
    good = list(grp.clean_good_s[: len(offered)])
    end = stall(scenario).end
    recovery = recovery_time(offered, good, step=1.0, stall_end=end) if len(offered) == len(good) else None
    return Run(scenario, result, p99, offered, good, recovery, snaps)


def period_p99_ms(run: Run, start: float, end: float) -> dict[str, float]:
    """Per layer: the p99 (ms) of the times in the layer that ended within ``[start, end)``
    (whole seconds)."""
    a, b = int(start), int(end)
    return {layer: _p99_ms(run.snaps[b][layer], run.snaps[a][layer]) for layer in LAYERS}


def seed_table() -> pd.DataFrame:
    """The seed's chapter-5 table: normal and fault p99 of time in each layer (ms); its recovery
    times are ``SEED_RECOVERY_S``."""
    rows = [{"layer": k, "normal p99 (ms)": v[0], "fault p99 (ms)": v[1]} for k, v in SEED_P99_MS.items()]
    return pd.DataFrame(rows)


def load_full() -> tuple[Path, pd.DataFrame] | None:
    """The full model's runs (``runs.csv`` of ``benchmarks/chapter5.py``) from the first of
    ``FULL_DIRS`` that has them; None when none has."""
    for d in FULL_DIRS:
        path = d / "runs.csv"
        if path.is_file():
            return path, pd.read_csv(path)
    return None


def full_tables(runs: pd.DataFrame) -> dict[str, Any]:
    """Calibration, per-layer p99 and recovery tables of the full model's ``runs`` (the base runs, not
    the sensitivity variants), built by ``sim.experiments.chapter5_tables``."""
    base = runs[runs["factor"].fillna("") == ""] if "factor" in runs else runs
    base = base.astype({"recovery_s": float})
    cap = float(base["cap_s"].iloc[0])
    st, de = base[base.config == "static"], base[base.config == "defended"]

    def means(part: pd.DataFrame, period: str) -> dict[str, float]:
        return {layer: fmean(part[f"{period}_{layer}_p99_ms"].astype(float).tolist()) for layer in LAYERS}

    layers = layer_table(means(st, "normal"), means(st, "fault"))
    layers["defended fault p99"] = [means(de, "fault")[layer] for layer in LAYERS]
    return {
        "calibration": calibration_table(means(st, "normal")),
        "layers": layers,
        "recovery": recovery_table(base, cap=cap),
        "paired": paired_recovery(base, cap=cap),
        "cap": cap,
    }


def recompute_full(
    progress: Callable[[int, int], None],
    *,
    seeds: Sequence[int] = (1, 2),
    workers: int = 2,
    out: Path = FULL_DIRS[0],
    scenarios: Mapping[str, Scenario] | None = None,
) -> pd.DataFrame:
    """Run the full model (``scenarios/chapter5``, static and defended, over ``seeds``) with
    ``sim.experiments.chapter5_run.measure`` in a pool of ``workers`` processes (one: in this process),
    reporting ``progress(done, total)``; writes ``out/runs.csv`` in the form of ``benchmarks/chapter5.py``.
    ``scenarios`` (config -> scenario) replaces the files, e.g. by the small model for a quick check."""
    chosen = scenarios or {c: load_scenario(SCENARIOS / f"{c}.toml") for c in ("static", "defended")}
    jobs = [(config, seed) for config in chosen for seed in seeds]
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    progress(0, len(jobs))
    if workers <= 1:
        for done, (c, s) in enumerate(jobs, start=1):
            rows[(c, s)] = measure(chosen[c], s)
            progress(done, len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(measure, chosen[c], s): (c, s) for c, s in jobs}
            for done, future in enumerate(as_completed(futures), start=1):
                rows[futures[future]] = future.result()
                progress(done, len(jobs))
    runs = pd.DataFrame([{"config": c, "factor": "", "level": "", **rows[(c, s)]} for c, s in jobs])
    out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out / "runs.csv", index=False)
    return runs
