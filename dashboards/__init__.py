"""Grafana dashboards for the resilience metric catalog, with thresholds from tuned configs.

``build(config)`` gives the production and simulator dashboards as dicts;
``write`` stores them as byte-stable JSON. ``ExportConfig`` (or
``from_policies``, from breaker/retry/budget configs) holds every threshold
and where it came from; its ``tiers`` add a row of per-tier panels
(``dashboards.tiers``). ``LocalPrometheus`` serves backfilled series,
``evaluate`` runs every panel query on it, ``render`` draws them as an
offline HTML preview and ``push`` uploads dashboards to Grafana. Imports
``resilience`` only, never the simulator.
"""

from .config import ExportConfig
from .evaluate import Series, evaluate
from .grafana import Form, build, dumps, uid, write
from .panels import PANEL_IDS
from .policies import from_policies
from .preview import render
from .prometheus import LocalPrometheus, PrometheusError, PrometheusMissing
from .push import PushError, push

__all__ = [
    "PANEL_IDS",
    "ExportConfig",
    "Form",
    "LocalPrometheus",
    "PrometheusError",
    "PrometheusMissing",
    "PushError",
    "Series",
    "build",
    "dumps",
    "evaluate",
    "from_policies",
    "push",
    "render",
    "uid",
    "write",
]
