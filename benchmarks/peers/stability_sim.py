"""Runs marcbrooker/stability-sim's built-in examples from a local checkout and reads its counts.

The peer is TypeScript (a browser app). ``stability_sim.cjs`` beside this file transpiles its
engine with the peer's own ``typescript`` dev dependency and drives it with Node.js the way its
web worker does; this module calls that driver, records the checkout's git commit and reads the
per-second counts it prints. Nothing here is fetched: the checkout path is given by the caller.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("stability_sim.cjs")


class PeerError(Exception):
    """The peer could not be run (missing checkout, Node.js or TypeScript, driver failure)."""


@dataclass(frozen=True)
class PeerRun:
    """One run of the driver: where the peer was, its commit, Node's version, one entry per run."""

    path: Path
    commit: str
    node: str
    examples: list[dict[str, Any]]


def find_typescript(peer: Path, typescript: Path | None = None) -> Path:
    """The ``typescript`` package folder: ``typescript`` if given, else the peer's node_modules."""
    candidates = [typescript] if typescript is not None else [peer / "node_modules" / "typescript"]
    for c in candidates:
        if c is not None and (c / "package.json").is_file():
            return c
    where = typescript if typescript is not None else peer / "node_modules" / "typescript"
    raise PeerError(
        f"no TypeScript package at {where}: run `npm install` in the peer checkout "
        "(its README's setup) or pass --peer-typescript DIR"
    )


def peer_commit(peer: Path) -> str:
    """The checkout's ``HEAD`` commit, or ``"unknown"`` when it is not a git work tree."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    out = subprocess.run(
        [git, "-C", str(peer), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def run_peer(
    peer: Path,
    *,
    typescript: Path | None = None,
    ids: tuple[str, ...] = (),
    seeds: int = 1,
    timeout: float = 1800.0,
) -> PeerRun:
    """Run the peer's examples (all, or ``ids``), each with ``seeds`` seeds from its own."""
    peer = peer.resolve()
    if not (peer / "src" / "engine" / "simulation-engine.ts").is_file():
        raise PeerError(f"{peer}: not a stability-sim checkout (no src/engine/simulation-engine.ts)")
    node = shutil.which("node")
    if node is None:
        raise PeerError("node (Node.js 18+) is not on PATH")
    ts = find_typescript(peer, typescript)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    with tempfile.TemporaryDirectory(prefix="stability-sim-") as out:
        cmd = [node, str(DRIVER), str(peer), str(ts), out, f"--seeds={seeds}", *ids]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PeerError(f"the peer did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PeerError(f"the peer's driver exited with status {done.returncode}: {last}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise PeerError(f"the peer's driver printed no JSON: {exc}") from exc
    return PeerRun(peer, peer_commit(peer), version.stdout.strip(), list(data["examples"]))


def peer_trigger(example: dict[str, Any]) -> tuple[float, float] | None:
    """(start, end) of what sets the example off: its failure scenarios, else a traffic burst."""
    spans: list[tuple[float, float]] = []
    for f in example["failures"]:
        start = float(f["triggerTime"])
        if f["type"] == "server-crash":
            spans.append((start, float(f["recoveryTime"])))
        elif f["type"] == "cache-flush":
            spans.append((start, start))
        else:
            spans.append((start, start + float(f["duration"])))
    if not spans:
        for c in example["components"]:
            pattern = c["config"].get("trafficPattern", {})
            if pattern.get("type") == "burst":
                at = float(pattern["atTime"])
                spans.append((at, at))
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def peer_max_latency(example: dict[str, Any]) -> float:
    """The longest a request of the example can last: attempts x timeout (the client's default 1 s)."""
    longest = 0.0
    for c in example["components"]:
        cfg = c["config"]
        if cfg.get("type") != "client":
            continue
        strategy = cfg["retryStrategy"]
        retries = {"none": 0, "fixed-n": strategy.get("maxRetries", 0)}.get(strategy["type"])
        if retries is None:  # token bucket, circuit breaker: bounded by tokens / maxRetries
            retries = strategy.get("maxRetries", strategy.get("capacity", 0))
        timeout = float(cfg.get("timeout", 1.0))
        longest = max(longest, timeout * (1 + int(retries)))
    return longest if longest > 0 else math.inf
