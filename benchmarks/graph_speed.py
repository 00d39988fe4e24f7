"""Speed of the multi-tier runtime on the chapter-5 model: seconds per simulated second.

Runs ``scenarios/chapter5/static.toml`` (12,000 rps over L4 → L7 → gateway → cache/DB/payment,
about four tier visits per request) for ``--duration`` simulated seconds of its normal period
(faults and the flood group left out, warm-up shortened), ``--repeat`` times, and prints the best
run's wall and CPU seconds per simulated second, events per second, and events and tier visits per
client request. The target is <= 1.5 wall seconds per simulated second. ``--kinds`` also counts
the events of one run by what they do (per client request).

With a compiled build present (``make native``) both builds are measured side by side, each run in a
fresh process and the two interleaved (the sources through ``RWB_PURE=1``), and the script checks
that they processed the same events for the same requests.

``--whole`` instead runs both chapter-5 files as they are (the flood and the stall included) over
their whole horizon (or the first ``--horizon`` seconds), each in its own process, the two at once, in the
build present: the least flattering form of the figure (the flood doubles the load for 35 s, and the
two runs share the machine's caches). ``--alone`` runs them one after the other instead.

    .venv/bin/python benchmarks/graph_speed.py [--duration 5] [--repeat 3] [--seed 1] [--kinds] [--json]
    .venv/bin/python benchmarks/graph_speed.py --whole [--alone] [--horizon SECONDS]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
import tomllib
from collections import Counter
from heapq import heappop
from pathlib import Path
from typing import Any

from sim import Scenario, load_scenario, native, scenario_from_dict
from sim.graph.engine import build, run_graph

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "chapter5" / "static.toml"


def scenario(duration: float) -> Scenario:
    """The chapter-5 static model's normal period: no faults, no flood, warm-up min(2, duration / 2)."""
    data = tomllib.loads(SCENARIO.read_text(encoding="utf-8"))
    data.update(duration=duration, warmup=min(2.0, duration / 2), faults=[])
    data["clients"].pop("flood", None)
    return scenario_from_dict(data, source=str(SCENARIO))


def measure(duration: float, seed: int) -> dict[str, float]:
    """One run: seconds per simulated second, events per second, events and visits per request."""
    sc = scenario(duration)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run_graph(sc, seed)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    model = result.model
    offered = sum(g.offered for g in model.groups.values())  # client requests, warm-up included
    visits = sum(t.arrivals for t in model.tiers.values())
    return {
        "sim_seconds": duration,
        "requests": offered,
        "events": result.events,
        "wall_per_sim_second": wall / duration,
        "cpu_per_sim_second": cpu / duration,
        "events_per_wall_second": result.events / wall,
        "events_per_cpu_second": result.events / cpu,
        "events_per_request": result.events / max(offered, 1),
        "visits_per_request": visits / max(offered, 1),
    }


def best(duration: float, seed: int, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs (by wall time; its CPU time is the least of the runs')."""
    runs = [measure(duration, seed) for _ in range(repeat)]
    out = min(runs, key=lambda m: m["wall_per_sim_second"])
    out = dict(out, cpu_per_sim_second=min(m["cpu_per_sim_second"] for m in runs))
    out["events_per_cpu_second"] = out["events"] / (out["cpu_per_sim_second"] * duration)
    out["repeat"] = repeat
    return out


def kinds(duration: float, seed: int) -> dict[str, float]:
    """Events of one run by kind (the name of their first callback), per client request."""
    model = build(scenario(duration), seed)
    env: Any = model.env
    queue, counts = env._queue, Counter[str]()
    model.rec.start()
    while queue and queue[0][0] < duration:
        env._now, _, _, event = heappop(queue)
        callbacks, event.callbacks = event.callbacks, None
        first = callbacks[0] if callbacks else None
        counts[getattr(first, "__qualname__", type(first).__name__)] += 1
        for cb in callbacks:
            cb(event)
    offered = max(sum(g.offered for g in model.groups.values()), 1)
    return {k: n / offered for k, n in counts.most_common()}


def one_process(duration: float, seed: int, pure: bool) -> dict[str, Any]:
    """One measurement in a fresh process, with the sources (``pure``) or the compiled build."""
    env = dict(os.environ, **{native.PURE_ENV: "1" if pure else "0"})
    cmd = [
        sys.executable,
        __file__,
        "--json",
        "--repeat",
        "1",
        "--duration",
        str(duration),
        "--seed",
        str(seed),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def side_by_side(duration: float, seed: int, repeat: int) -> dict[str, dict[str, Any]]:
    """Both builds, interleaved, ``repeat`` runs each: the best run of each (as ``best``)."""
    runs: dict[str, list[dict[str, Any]]] = {"compiled": [], "pure": []}
    for _ in range(repeat):
        for name in runs:
            runs[name].append(one_process(duration, seed, pure=name == "pure"))
            print(
                f"  {name:8s} {runs[name][-1]['wall_per_sim_second']:.2f} wall s per simulated s", flush=True
            )
    out = {}
    for name, ms in runs.items():
        m = dict(min(ms, key=lambda m: m["wall_per_sim_second"]), repeat=repeat)
        m["cpu_per_sim_second"] = min(x["cpu_per_sim_second"] for x in ms)
        m["median_wall_per_sim_second"] = sorted(x["wall_per_sim_second"] for x in ms)[len(ms) // 2]
        out[name] = m
    return out


def whole_run(name: str, seed: int, horizon: float | None) -> dict[str, Any]:
    """One chapter-5 file as it is, over its whole horizon (or ``horizon`` seconds)."""
    sc = load_scenario(SCENARIO.with_name(f"{name}.toml"))
    if horizon is not None:  # the first ``horizon`` seconds: faults starting later left out
        faults = tuple(f for f in sc.faults if f.start < horizon)
        sc = dataclasses.replace(sc, duration=horizon, warmup=min(sc.warmup, horizon / 2), faults=faults)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run_graph(sc, seed)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "file": name,
        "sim_seconds": sc.duration,
        "events": result.events,
        "wall_per_sim_second": wall / sc.duration,
        "cpu_per_sim_second": cpu / sc.duration,
        "events_per_wall_second": result.events / wall,
        "build": native.build_state(),
    }


def whole(seed: int, horizon: float | None, alone: bool = False) -> None:
    """Both files over their whole horizon, each in a fresh process: the two at once (the least
    flattering form: they share the machine's caches and memory bandwidth) or, ``alone``, one after
    the other."""
    extra = [] if horizon is None else ["--horizon", str(horizon)]

    def start(name: str) -> subprocess.Popen[str]:
        cmd = [sys.executable, __file__, "--whole-file", name, "--seed", str(seed), *extra]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

    how = "one after the other" if alone else "at once in two processes"
    print(f"chapter 5, both files as they are, seed {seed}, {how} ({native.build_state()}):")
    names = ("static", "defended")
    procs = {} if alone else {name: start(name) for name in names}
    for name in names:
        proc = start(name) if alone else procs[name]
        out, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"graph_speed: the {name} run failed")
        m = json.loads(out)
        print(
            f"  {name:8s} {m['sim_seconds']:g} simulated s: wall {m['wall_per_sim_second']:.2f} s "
            f"per simulated s (target <= 1.5), CPU {m['cpu_per_sim_second']:.2f} s, {m['events']:,} events, "
            f"{m['events_per_wall_second']:,.0f} per wall s",
            flush=True,
        )


def report(m: dict[str, Any]) -> None:
    wall, cpu = m["wall_per_sim_second"], m["cpu_per_sim_second"]
    print(f"  wall {wall:.2f} s per simulated s (target <= 1.5), CPU {cpu:.2f} s")
    ew, ec = m["events_per_wall_second"], m["events_per_cpu_second"]
    print(f"  {ew:,.0f} events per wall s, {ec:,.0f} per CPU s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", action="store_true", help="count one run's events by kind")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--whole", action="store_true", help="both files, faults included, whole horizon")
    ap.add_argument(
        "--horizon", type=float, default=None, help="with --whole: simulated s (default: the files')"
    )
    ap.add_argument("--alone", action="store_true", help="with --whole: one file after the other")
    ap.add_argument("--whole-file", choices=("static", "defended"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.whole_file:  # one process of --whole
        print(json.dumps(whole_run(args.whole_file, args.seed, args.horizon)))
        return
    if args.whole:
        whole(args.seed, args.horizon, args.alone)
        return
    state = native.build_state()
    if state != "pure Python" and not args.json and not args.kinds:
        print(f"chapter 5 (static, normal period), {args.duration:g} simulated s, seed {args.seed}: {state}")
        both = side_by_side(args.duration, args.seed, max(args.repeat, 1))
        c, p = both["compiled"], both["pure"]
        same = all(c[k] == p[k] for k in ("requests", "events", "visits_per_request"))
        print(
            f"  same requests and events in both builds: {'yes' if same else 'NO'} ({c['events']:,} events)"
        )
        for name, m in both.items():
            print(f"{name} (best of {m['repeat']}, median {m['median_wall_per_sim_second']:.2f}):")
            report(m)
        ratio = c["cpu_per_sim_second"] / p["cpu_per_sim_second"]
        print(f"compiled / pure CPU time: {ratio:.2f}")
        if not same:
            sys.exit(1)
        return
    m: dict[str, Any] = best(args.duration, args.seed, max(args.repeat, 1))
    m["build"] = state
    if args.kinds:
        m["events_per_request_by_kind"] = kinds(args.duration, args.seed)
    if args.json:
        print(json.dumps(m, indent=2))
        return
    print(
        f"chapter 5 (static, normal period), {m['sim_seconds']:g} simulated s, seed {args.seed}, "
        f"best of {m['repeat']}, {state}"
    )
    print(
        f"  requests {m['requests']:,}: {m['visits_per_request']:.2f} tier visits and "
        f"{m['events_per_request']:.2f} events per request ({m['events']:,} events)"
    )
    report(m)
    for k, per in m.get("events_per_request_by_kind", {}).items():
        print(f"    {per:6.2f} per request  {k}")


if __name__ == "__main__":
    main()
