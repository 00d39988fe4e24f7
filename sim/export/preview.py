"""The preview page: the simulated series in a local Prometheus, every panel queried and drawn."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from dashboards import Form, uid
from dashboards.evaluate import evaluate
from dashboards.preview import render
from dashboards.prometheus import LocalPrometheus
from dashboards.promql import regex_escape
from sim.export.pipeline import Export

__all__ = ["preview", "query_window"]


def query_window(result: Export) -> tuple[float, float, float]:
    """(start, end, step) of the preview queries: the incident run's span, one point per scrape."""
    sc = result.runs.scenario
    return float(sc.epoch), float(sc.epoch + sc.duration), sc.scrape_interval


def preview(result: Export, path: Path, *, progress: Callable[[str], None] | None = None) -> Path:
    """Backfill both runs into a local Prometheus, query the simulation dashboard for the incident run,
    and write one HTML page to ``path``."""
    say = progress or (lambda _line: None)
    runs = result.runs
    sim = [d for d in result.dashboards if d["uid"] == uid(result.config, Form.SIMULATION)]
    start, end, step = query_window(result)
    variables = {
        "datasource": "prometheus",
        "name": "|".join(regex_escape(e) for e in result.config.edges),
        "run": regex_escape(runs.incident_label),
    }
    with tempfile.TemporaryDirectory(prefix="rwb-preview-") as work:
        say("backfilling the series and starting a local Prometheus on 127.0.0.1")
        with LocalPrometheus([runs.incident, runs.baseline], Path(work)) as prom:
            n = sum(len(p.get("targets", [])) for d in sim for p in d["panels"])
            say(f"querying {n} panel expressions")
            results = evaluate(sim, prom, start, end, step, variables, scrape_interval=step)
    title = f"{result.config.title}: {runs.incident_label} (seed {runs.seed})"
    path.write_text(render(sim, results, title), encoding="utf-8")
    return path
