"""Baseline files: a scenario's metric means over fixed seeds, with the tolerance each may move by.

Format (JSON, one file per baseline, ``<dir>/<name>.json``, one line per metric)::

    {
      "format": "rwb-baseline/1",
      "scenario": "retry-storm-resilient",
      "scenario_sha256": "<hash of the canonical scenario>",
      "seeds": [0, 1, 2],
      "metrics": {
        "amplification": {"mean": 0.89, "values": [0.89, 0.88, 0.9], "tolerance": {"abs": 0.0, "rel": 0.05}}
      }
    }

A metric passes when ``|mean now - mean recorded| <= abs + rel * |mean recorded|``
(a move in either direction counts; without ``tolerance``: abs 0, rel 0.05).
A ``null`` mean (some seed had no value, e.g. never recovered) matches only a
``null`` mean. The seeds must be the recorded ones. Refreshing a file rewrites
means, values, seeds and hash, and keeps the tolerances already in it, so they
can be edited by hand.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.testing.runs import Runs

__all__ = ["FORMAT", "Tolerance", "check_baseline", "read_baseline", "write_baseline"]

FORMAT = "rwb-baseline/1"


@dataclass(frozen=True)
class Tolerance:
    """How far a metric's mean may move from the recorded one: ``abs + rel * |recorded|``."""

    abs: float = 0.0
    rel: float = 0.05

    def __post_init__(self) -> None:
        for field in ("abs", "rel"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"Tolerance.{field}={value!r}: must be a finite number >= 0")

    def allowed(self, recorded: float) -> float:
        return self.abs + self.rel * abs(recorded)


def _mean(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else statistics.mean(v for v in values if v is not None)


def _fail(path: Path, where: str, value: object, rule: str) -> ValueError:
    return ValueError(f"{path}: {where}={value!r}: {rule}")


def read_baseline(path: Path) -> dict[str, Any]:
    """The baseline in ``path``, checked against the format (errors name file, field, value, rule)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise _fail(path, "<top>", type(data).__name__, "must be a JSON object")
    if data.get("format") != FORMAT:
        raise _fail(path, "format", data.get("format"), f"must be {FORMAT!r}")
    seeds = data.get("seeds")
    if not (isinstance(seeds, list) and all(type(s) is int for s in seeds)):
        raise _fail(path, "seeds", seeds, "must be a list of integers")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        raise _fail(path, "metrics", metrics, "must be an object")
    for name, entry in metrics.items():
        if not isinstance(entry, dict):
            raise _fail(path, f"metrics.{name}", entry, "must be an object")
        mean = entry.get("mean")
        if mean is not None and (isinstance(mean, bool) or not isinstance(mean, int | float)):
            raise _fail(path, f"metrics.{name}.mean", mean, "must be a number or null")
        tol = entry.get("tolerance", {})
        if not isinstance(tol, dict) or set(tol) - {"abs", "rel"}:
            raise _fail(path, f"metrics.{name}.tolerance", tol, "must be an object with keys abs, rel")
        for key, value in tol.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _fail(path, f"metrics.{name}.tolerance.{key}", value, "must be a number >= 0")
    return data


def write_baseline(
    path: Path,
    runs: Runs,
    metrics: Sequence[str],
    tolerances: Mapping[str, Tolerance],
) -> None:
    """Write the baseline of ``runs``; a metric's tolerance comes from ``tolerances``."""
    entries: dict[str, Any] = {}
    for m in metrics:
        values = runs.values(m)
        tol = tolerances[m]
        entries[m] = {
            "mean": _mean(values),
            "values": values,
            "tolerance": {"abs": tol.abs, "rel": tol.rel},
        }
    head = {
        "format": FORMAT,
        "scenario": runs.scenario,
        "scenario_sha256": runs.fingerprint,
        "seeds": list(runs.seeds),
    }
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    rows = [f"    {json.dumps(m)}: {json.dumps(e)}" for m, e in entries.items()]
    text = "{\n" + "\n".join(lines) + '\n  "metrics": {\n' + ",\n".join(rows) + "\n  }\n}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _g(x: float | None) -> str:
    return "null" if x is None else f"{x:.4g}"


def _differences(recorded: Mapping[str, Any], runs: Runs, metrics: Sequence[str]) -> list[str]:
    out = []
    for m in metrics:
        entry = recorded["metrics"].get(m)
        if entry is None:
            out.append(f"{m} is not in the baseline")
            continue
        then, now = entry["mean"], _mean(runs.values(m))
        tol = Tolerance(**entry.get("tolerance", {}))
        if then is None or now is None:
            if (then is None) != (now is None):
                out.append(f"{m} mean is {_g(now)} now, {_g(then)} in the baseline")
            continue
        allowed = tol.allowed(then)
        if abs(now - then) > allowed:
            change = f"{now - then:+.4g}" + (f" ({(now - then) / abs(then):+.1%})" if then else "")
            out.append(
                f"{m} mean moved from {_g(then)} to {_g(now)}, {change}, beyond the allowed "
                f"±{allowed:.4g} (abs {tol.abs:g} + rel {tol.rel:g} * |{_g(then)}|)"
            )
    return out


def check_baseline(
    path: Path,
    runs: Runs,
    metrics: Sequence[str],
    tolerances: Mapping[str, Tolerance],
    update: bool,
) -> bool:
    """Compare ``runs`` with the baseline in ``path`` (``AssertionError`` on a difference).

    With ``update`` the file is (re)written instead, keeping tolerances already in it (``tolerances``
    for metrics new to it); returns whether it was written.
    """
    __tracebackhide__ = True
    if update:
        kept: dict[str, Tolerance] = {}
        if path.exists():
            old = read_baseline(path)
            kept = {m: Tolerance(**e.get("tolerance", {})) for m, e in old["metrics"].items()}
        write_baseline(path, runs, metrics, {m: kept.get(m, tolerances[m]) for m in metrics})
        return True
    refresh = "if the change is intended, refresh it with `pytest --rwb-update-baselines`"
    if not path.exists():
        raise AssertionError(
            f"{runs.scenario}: no baseline file {path}; record it with `pytest --rwb-update-baselines`."
        )
    recorded = read_baseline(path)
    if recorded["seeds"] != list(runs.seeds):
        raise AssertionError(
            f"{runs.scenario}: baseline {path} was recorded with seeds {recorded['seeds']} but this run "
            f"used {list(runs.seeds)}; compare with the recorded seeds, or {refresh}."
        )
    problems = _differences(recorded, runs, metrics)
    if problems:
        note = ""
        if recorded.get("scenario_sha256") not in (None, "", runs.fingerprint):
            note = " The scenario itself differs from the one recorded."
        raise AssertionError(
            f"{runs.scenario} differs from its baseline {path} over seeds "
            f"{', '.join(map(str, runs.seeds))}: {'; '.join(problems)}.{note} "
            f"The tolerances are in the file; {refresh}."
        )
    return False
