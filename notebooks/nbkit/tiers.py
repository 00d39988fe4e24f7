"""The multi-tier timeout notebook's scenario and its views of a ``GraphResult``.

``layered_scenario`` loads ``scenarios/graph/notebook_layered_timeouts.toml`` (client -> gateway ->
backend) and sets the notebook's controls on it; in test mode (``RWB_NOTEBOOK_TEST=1``) the timeline
is shorter but keeps its phases (warm-up, slowdown, aftermath).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim import Scenario, load_scenario

from .live import test_mode

__all__ = [
    "LAYERED_DEFAULTS",
    "LAYERED_FILE",
    "SOURCES",
    "layered_scenario",
    "root_cause_table",
    "timeout_sources",
    "useful_by_tier",
    "useful_over_time",
]

LAYERED_FILE = Path(__file__).resolve().parents[2] / "scenarios" / "graph" / "notebook_layered_timeouts.toml"

SOURCES = ("client", "gateway", "backend")
"""Where a timer can fire: the client's pipeline, the gateway (route timeout, calls to the backend),
the backend (work whose propagated deadline had passed)."""

LAYERED_DEFAULTS: dict[str, Any] = {
    "client_timeout": 1.0,
    "route_timeout": 0.8,
    "reserve": 0.02,
    "slowness": 6.0,
    "cancel_on_timeout": False,
}

_PATHS = {
    "client_timeout": "clients.web.retry.attempt_timeout",
    "route_timeout": "services.gateway.routes.default.timeout",
    "reserve": "edges.gw_backend.reserve",
    "slowness": "faults[0].factor",
    "cancel_on_timeout": "services.backend.cancel_on_timeout",
}


def layered_scenario(**settings: Any) -> Scenario:
    """The three-tier scenario with the notebook's settings (``LAYERED_DEFAULTS`` for the rest):
    ``client_timeout``, the gateway's ``route_timeout``, the per-hop ``reserve`` of the gateway's calls,
    the backend's ``slowness`` (service-time factor during the fault) and ``cancel_on_timeout`` (the
    backend drops work whose caller timed out)."""
    unknown = sorted(set(settings) - set(_PATHS))
    if unknown:
        raise ValueError(f"settings={unknown}: unknown; must be among {', '.join(_PATHS)}")
    s = {**LAYERED_DEFAULTS, **settings}
    changes: dict[str, Any] = {_PATHS[k]: v for k, v in s.items()}
    changes["services.backend.cancel_on_timeout"] = bool(s["cancel_on_timeout"])
    if test_mode():
        changes.update({"duration": 30.0, "faults[0].start": 10.0, "faults[0].duration": 6.0})
    return load_scenario(LAYERED_FILE).with_(**changes)


def timeout_sources(result: Any) -> pd.DataFrame:
    """Timeouts of the whole run: one row per source (client, gateway, backend), one column per
    phase (``attempt``, ``deadline``), zeros where none fired."""
    counts = result.summary["timeouts"]
    df = pd.DataFrame(
        {src: counts.get(src, {}) for src in SOURCES}, columns=list(SOURCES), dtype=float
    ).T.fillna(0.0)
    for phase in ("attempt", "deadline"):
        if phase not in df:
            df[phase] = 0.0
    return df[["attempt", "deadline"]].astype(int)


def useful_by_tier(result: Any) -> dict[str, float]:
    """Per tier: answers used by a caller still waiting, over answers after service (whole run)."""
    return {
        name: float("nan") if t["useful_work_ratio"] is None else float(t["useful_work_ratio"])
        for name, t in result.summary["tiers"].items()
    }


def useful_over_time(result: Any) -> pd.DataFrame:
    """Useful-work ratio per second: one column per tier, indexed by second (NaN: nothing completed)."""
    ts = result.tier_seconds
    out: pd.DataFrame = ts.pivot(index="second", columns="tier", values="useful_ratio")
    return out


def root_cause_table(result: Any) -> pd.DataFrame:
    """The root-cause triples (time, trace id, source of the first timeout) grouped by source, tier
    and phase: how many requests each explains, the first and last time, one example trace id."""
    rows = [
        {"source": r.source, "tier": r.tier, "phase": r.phase, "time": r.time, "trace_id": r.trace_id}
        for r in result.root_causes
    ]
    if not rows:
        return pd.DataFrame(
            columns=["source", "tier", "phase", "requests", "first (s)", "last (s)", "example trace"]
        )
    df = pd.DataFrame(rows)
    out = (
        df.groupby(["source", "tier", "phase"])
        .agg(
            requests=("trace_id", "size"),
            first=("time", "min"),
            last=("time", "max"),
            example=("trace_id", "first"),
        )
        .reset_index()
        .sort_values("requests", ascending=False)
    )
    out["first"] = out["first"].round(2)
    out["last"] = out["last"].round(2)
    return out.rename(columns={"first": "first (s)", "last": "last (s)", "example": "example trace"})
