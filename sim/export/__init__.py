"""Export a scenario's tuned settings as Grafana dashboards, Prometheus rules and Alertmanager config,
backtested with promtool on the simulated incident and its healthy baseline.

``export_config(scenario)`` derives every threshold; ``export(scenario, out)`` simulates, writes and
checks; ``simulate`` and ``write`` are its two halves (``write`` reuses runs for variants).
"""

from sim.export.backtest import BACKTESTED, NOT_BACKTESTED
from sim.export.config import ExportError, export_config
from sim.export.pipeline import Export, PromtoolMissing, Runs, baseline_of, export, simulate, write

__all__ = [
    "BACKTESTED",
    "Export",
    "ExportError",
    "NOT_BACKTESTED",
    "PromtoolMissing",
    "Runs",
    "baseline_of",
    "export",
    "export_config",
    "simulate",
    "write",
]
