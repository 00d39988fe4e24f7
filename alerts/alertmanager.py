"""Alertmanager config: routes by severity grouped by alert and edge, inhibitions by an open breaker."""

from __future__ import annotations

from typing import Any

from dashboards import ExportConfig

__all__ = ["INHIBITED_BY_OPEN_BREAKER", "alertmanager_config", "receiver"]

INHIBITED_BY_OPEN_BREAKER = ("ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "FallbackEngaged")
"""Alerts an open breaker explains on the same edge: its refusals are the errors and the fallbacks."""


def receiver(config: ExportConfig, severity: str) -> str:
    """The receiver name for ``severity`` (``critical``/``warning``)."""
    return f"{config.slug}-{severity}"


def alertmanager_config(config: ExportConfig) -> dict[str, Any]:
    """An Alertmanager config; its receivers are placeholders to fill in (no integration yet)."""
    prefix = config.alert_prefix
    ours = f'alertname=~"{prefix}.+"'
    targets = "|".join(prefix + a for a in INHIBITED_BY_OPEN_BREAKER)
    return {
        "route": {
            "receiver": receiver(config, "warning"),
            "group_by": ["alertname", "name"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": receiver(config, sev), "matchers": [ours, f'severity="{sev}"']}
                for sev in ("critical", "warning")
            ],
        },
        "receivers": [{"name": receiver(config, sev)} for sev in ("critical", "warning")],
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname="{prefix}BreakerStuckOpen"'],
                "target_matchers": [f'alertname=~"{targets}"'],
                "equal": ["name"],
            }
        ],
    }
