"""stability-sim's published examples, rebuilt as scenarios, run here and (optionally) in the peer.

    python benchmarks/stability_sim.py [--seeds N] [--json]
    python benchmarks/stability_sim.py --peer PATH [--peer-typescript DIR] [--seeds N] [--json]

Our side always runs (scenarios/stability/*.toml). With ``--peer`` the peer (a checkout of
marcbrooker/stability-sim, run with Node.js; see benchmarks/peers/stability_sim.py) runs its own
examples too and its git commit is printed. Per example, both sides are judged by one rule
(``outcome``) from their per-second counts, keyed by a request's arrival second: ``offered``
(new requests) and ``good`` (requests the client saw succeed before its timeout):

* a second is *bad* when good < 0.5 x offered, *good* when good >= 0.9 x offered;
* the trigger is the fault window (or a traffic burst); without one it is [0, 0];
* onset: the first bad second at or after the trigger's start (reported in seconds after it);
* recovered at: the start of the first 5 s window of good seconds that starts no earlier than
  the trigger's end or the onset, whichever is later (``from``); recovery = recovered at - from;
* collapse seconds: recovered at (or the horizon) - onset;
* collapse (yes/no): an onset, and no recovery within 20 s of ``from``: goodput stays low long
  after its trigger has gone (20 s suits the peer's 60 s runs); an onset later than 20 s before
  the horizon without recovery is too close to the end to call, and counts as no;
* only seconds whose requests can all finish before the run ends count (the horizon: run length
  minus the longest a request can last, attempts x attempt timeout).

Wall time per simulated second is each side's event loop alone. Exit status: 0 done, 1 the peer
could not run (an ``error:`` line says why), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios" / "stability"

BAD = 0.5
GOOD = 0.9
WINDOW = 5
SUSTAIN = 20


@dataclass(frozen=True)
class Example:
    """One of the peer's built-in examples: our scenario file, or what our model lacks for it."""

    id: str
    seed: int  # the seed the example ships with (src/examples/index.ts); ours runs the same numbers
    scenario: str | None
    missing: str | None = None
    note: str | None = None


EXAMPLES: tuple[Example, ...] = (
    Example(
        "metastable-retry",
        42,
        "metastable_retry.toml",
        note="single tier: the two replicas behind the round-robin balancer are one service "
        "with their 10 workers; the crash of one is a capacity drop to 5 workers",
    ),
    Example(
        "gc-death-spiral",
        42,
        "gc_death_spiral.toml",
        note="the queue in front of the server is the service's own queue; service time x e^(4u) "
        'is `load_latency = {multiplier = "exponential", factor = 4}`',
    ),
    Example(
        "connection-pool-exhaustion",
        42,
        "connection_pool_exhaustion.toml",
        note="the peer's servers never call downstream, so its database gets no traffic; "
        "rebuilt as the peer executes it",
    ),
    Example(
        "cache-stampede",
        123,
        "cache_stampede.toml",
        note="multi-tier: the cache is a tier with unlimited workers, no own time and an LRU limit "
        "of 80 of its 100 keys (`capacity`); each request keeps its key for its retry (`key_per = "
        "\"request\"`); the peer's late work is `fill_late` on the cache (a miss's answer fills its "
        "key after the client has given up) and `serve_expired` on the database; the queue's "
        "shedding threshold (80 places, checked on arrival against the same depth as the capacity) "
        "is a queue of 60 behind the database's 20 workers; database latency x (1 + 3u^2) is "
        '`load_latency = {multiplier = "polynomial", factor = 3, exponent = 2}`',
    ),
    Example(
        "cache-flush",
        77,
        "cache_flush.toml",
        note="the flush is a `cache_flush` fault; per-request keys and late work as in "
        "cache-stampede; 50 uniformly drawn keys, TTL 30 s, LRU limit 200 (never reached); the "
        "peer's ramp (each gap drawn at 300 x min(t + 0.08, 8) / 8 rps) is a `ramp` from 3 to 300 "
        "rps over 7.92 s; database latency x (1 + 5u^3), an unbounded FIFO behind its 30 workers",
    ),
    Example("timeout-cascade", 1031691469, "timeout_cascade.toml"),
    Example(
        "lb-sinkholing",
        314159,
        "lb_sinkholing.toml",
        note="multi-tier model: 3 replicas behind a least-outstanding balancer (no outlier "
        "ejection, as in the peer), the crash an outage of replica 0; the peer's token-bucket "
        "retries are the client's retry budget (10 tokens, 1 per retry, 1 back per success)",
    ),
    Example("goodput-collapse", 271828, "goodput_collapse.toml"),
)


@dataclass(frozen=True)
class Outcome:
    """What ``outcome`` found in one run's per-second counts (seconds; None: did not happen)."""

    collapse: bool
    onset: int | None
    collapse_seconds: int | None
    recovery: int | None
    horizon: int


def outcome(
    offered: list[int], good: list[int], *, trigger: tuple[float, float] | None, horizon: int
) -> Outcome:
    """Judge one run by the rule in this module's docstring."""
    horizon = max(0, min(horizon, len(offered), len(good)))

    def ratio(s: int) -> float:
        return 1.0 if offered[s] == 0 else good[s] / offered[s]

    start, end = (0, 0) if trigger is None else (math.floor(trigger[0]), math.ceil(trigger[1]))
    onset = next((s for s in range(start, horizon) if ratio(s) < BAD), None)
    if trigger is None and onset is None:
        return Outcome(False, None, None, None, horizon)
    first = end if onset is None else max(end, onset)
    recovered = next(
        (
            s
            for s in range(first, horizon - WINDOW + 1)
            if all(ratio(k) >= GOOD for k in range(s, s + WINDOW))
        ),
        None,
    )
    recovery = None if recovered is None else recovered - first
    if onset is None:
        return Outcome(False, None, None, recovery, horizon)
    length = (horizon if recovered is None else recovered) - onset
    # without a recovery, the horizon must leave SUSTAIN seconds to tell
    collapse = (horizon - first if recovery is None else recovery) >= SUSTAIN
    return Outcome(collapse, onset - start, length, recovery, horizon)


def _trigger(sc: Any) -> tuple[float, float] | None:
    """The fault window; without faults, the traffic bursts (as the peer's side does); else None."""
    if sc.faults:
        return min(f.start for f in sc.faults), max(f.end for f in sc.faults)
    from sim.scenario.workloads import Burst

    bursts = [g.workload for g in sc.clients.values() if isinstance(g.workload, Burst) and g.workload.count]
    if not bursts:
        return None
    return min(b.at for b in bursts), max(b.at + b.spread for b in bursts)


def judge(sc: Any, seed: int) -> tuple[Outcome, Any]:
    """Run scenario ``sc`` (a ``sim.Scenario``) with ``seed``; its ``Outcome`` and ``RunResult``.

    ``good`` is read from the run's goodput (successes within ``slo_latency``), so ``slo_latency``
    must cover the longest request: then every success counts, as on the peer's side.
    """
    from sim import run

    longest = max(
        g.retry.max_attempts * (g.retry.attempt_timeout or sc.duration) for g in sc.clients.values()
    )
    if sc.slo_latency < longest:
        raise ValueError(
            f"{sc.name}: slo_latency={sc.slo_latency}: must be >= the longest request "
            f"(attempts x attempt timeout = {longest}) so that every success counts"
        )
    result = run(sc, seed=seed)
    n = math.ceil(sc.duration)
    out = outcome(
        result.offered_per_second[:n],
        result.goodput_per_second[:n],
        trigger=_trigger(sc),
        horizon=n - math.ceil(longest),
    )
    return out, result


def run_ours(example: Example, seed: int) -> dict[str, Any]:
    """Run our scenario for ``example`` with ``seed``; its outcome and timing as plain data."""
    from sim import load_scenario

    assert example.scenario is not None
    out, result = judge(load_scenario(SCENARIOS / example.scenario), seed)
    wall = float(result.timing["wall_seconds"] or 0.0)
    return {
        "seed": seed,
        **asdict(out),
        "events": result.events,
        "wall_per_sim_second": wall / result.sim_seconds,
    }


def _peers() -> ModuleType:
    """benchmarks/peers/stability_sim.py (imported on demand: CI never runs the peer)."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    return importlib.import_module("peers.stability_sim")


def run_peer_side(
    peer: Path, typescript: Path | None, ids: tuple[str, ...], seeds: int
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Run the peer; (its commit/node/path, example id -> one row per seed)."""
    peers = _peers()
    done = peers.run_peer(peer, typescript=typescript, ids=ids, seeds=seeds)
    rows: dict[str, list[dict[str, Any]]] = {}
    for ex in done.examples:
        n = math.ceil(ex["end_time"])
        horizon = n - math.ceil(peers.peer_max_latency(ex))
        out = outcome(ex["offered"], ex["good"], trigger=peers.peer_trigger(ex), horizon=horizon)
        rows.setdefault(ex["id"], []).append(
            {
                "seed": ex["seed"],
                **asdict(out),
                "events": ex["events"],
                "wall_per_sim_second": ex["wall_seconds"] / ex["end_time"],
            }
        )
    info = {"path": str(done.path), "commit": done.commit, "node": done.node}
    return info, rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Several seeds of one side: collapse count, medians of the timings that happened."""

    def med(key: str) -> float | None:
        xs = [r[key] for r in rows if r[key] is not None]
        return statistics.median(xs) if xs else None

    return {
        "runs": len(rows),
        "collapses": sum(r["collapse"] for r in rows),
        "onset": med("onset"),
        "collapse_seconds": med("collapse_seconds"),
        "recovery": med("recovery"),
        "wall_per_sim_second": med("wall_per_sim_second"),
        "seeds": rows,
    }


def _fmt(x: float | None, spec: str = ".0f") -> str:
    return "-" if x is None else format(x, spec)


def _line(name: str, s: dict[str, Any] | None) -> str:
    if s is None:
        return f"  {name:<6} not run"
    k, n = s["collapses"], s["runs"]
    verdict = ("yes" if k else "no") if n == 1 else f"{k}/{n}"
    return (
        f"  {name:<6} collapse {verdict:<5} onset {_fmt(s['onset']):>3} s  "
        f"collapsed {_fmt(s['collapse_seconds']):>3} s  recovery {_fmt(s['recovery']):>3} s  "
        f"wall/sim-s {_fmt(s['wall_per_sim_second'], '.4f')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", type=Path, help="a checkout of marcbrooker/stability-sim")
    parser.add_argument("--peer-typescript", type=Path, help="the typescript package folder")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per example (default 1)")
    parser.add_argument("--only", nargs="+", default=[], help="example ids")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    known = {e.id for e in EXAMPLES}
    if args.seeds < 1:
        parser.error(f"--seeds={args.seeds}: must be >= 1")
    for i in args.only:
        if i not in known:
            parser.error(f"--only {i}: not one of {', '.join(sorted(known))}")
    chosen = [e for e in EXAMPLES if not args.only or e.id in args.only]

    peer_info: dict[str, Any] | None = None
    peer_rows: dict[str, list[dict[str, Any]]] = {}
    if args.peer is not None:
        peers = _peers()
        try:
            peer_info, peer_rows = run_peer_side(
                args.peer, args.peer_typescript, tuple(e.id for e in chosen), args.seeds
            )
        except peers.PeerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    report: dict[str, Any] = {"peer": peer_info, "examples": []}
    for ex in chosen:
        ours = None
        if ex.scenario is not None:
            ours = summarise([run_ours(ex, ex.seed + k) for k in range(args.seeds)])
        peer = summarise(peer_rows[ex.id]) if ex.id in peer_rows else None
        report["examples"].append(
            {
                "id": ex.id,
                "scenario": None if ex.scenario is None else f"scenarios/stability/{ex.scenario}",
                "missing": ex.missing,
                "note": ex.note,
                "ours": ours,
                "peer": peer,
            }
        )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if peer_info is not None:
        print(f"peer: {peer_info['path']} @ {peer_info['commit']} (node {peer_info['node']})")
    for row in report["examples"]:
        print(row["id"] + ("" if row["scenario"] is None else f"  ({row['scenario']})"))
        if row["missing"] is not None:
            print(f"  ours   not rebuilt; missing: {row['missing']}")
        else:
            print(_line("ours", row["ours"]))
        if peer_info is not None:
            print(_line("peer", row["peer"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
