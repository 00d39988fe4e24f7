"""Prometheus rules and Alertmanager config for the resilience metrics, and their backtests.

``build(config)`` gives ``rules.yml`` (recording and alerting rules),
``alertmanager.yml`` and a time-scaled copy of the rules for backtests;
``backtest`` writes ``promtool test rules`` files from plain series data.
Imports ``resilience`` and ``dashboards`` (for panel links), never the simulator.
"""

from .alertmanager import alertmanager_config
from .backtest import Expected, Run, backtest
from .build import build, dumps
from .rules import alert_names, rule_groups

__all__ = [
    "Expected",
    "Run",
    "alert_names",
    "alertmanager_config",
    "backtest",
    "build",
    "dumps",
    "rule_groups",
]
