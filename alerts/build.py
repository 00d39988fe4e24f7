"""The alerting artefacts of one export config, as YAML text with sorted keys."""

from __future__ import annotations

from typing import Any

import yaml

from dashboards import ExportConfig

from .alertmanager import alertmanager_config
from .rules import rule_groups

__all__ = ["build", "dumps"]


def dumps(data: Any) -> str:
    """Byte-stable YAML: sorted keys, block style, unicode kept."""
    text: str = yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000)
    return text


def build(config: ExportConfig, *, scale: float | None = None) -> dict[str, str]:
    """``rules.yml`` and ``alertmanager.yml``; with ``scale``, also ``rules.scaled.yml`` (windows / scale)."""
    out = {
        "rules.yml": dumps(rule_groups(config)),
        "alertmanager.yml": dumps(alertmanager_config(config)),
    }
    if scale is not None:
        out["rules.scaled.yml"] = dumps(rule_groups(config, scale))
    return out
