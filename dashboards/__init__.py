"""Grafana dashboards for the resilience metric catalog, with thresholds from tuned configs.

``build(config)`` gives the production and simulator dashboards as dicts;
``write`` stores them as byte-stable JSON. ``ExportConfig`` (or
``from_policies``, from breaker/retry/budget configs) holds every threshold
and where it came from. Imports ``resilience`` only, never the simulator.
"""

from .config import ExportConfig
from .grafana import Form, build, dumps, uid, write
from .panels import PANEL_IDS
from .policies import from_policies

__all__ = ["PANEL_IDS", "ExportConfig", "Form", "build", "dumps", "from_policies", "uid", "write"]
