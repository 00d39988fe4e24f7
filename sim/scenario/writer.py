"""Scenarios back into plain data and TOML text that ``load_scenario`` reads to an equal scenario."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from resilience._config import Config

__all__ = ["ALWAYS", "plain", "scenario_to_toml", "write_scenario"]

ALWAYS = ("name", "duration", "warmup", "slo_latency")
"""Top-level keys written even when they hold their default (every scenario file declares them)."""


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def plain(value: Any, *, defaults: bool = True, keep: tuple[str, ...] = ()) -> Any:
    """``value`` as TOML-ready data: configs as tables (with their ``type`` tag), tuples as arrays.

    Fields holding ``None`` are left out (TOML has no null; ``None`` is every optional field's
    default). Without ``defaults``, fields equal to their default are left out too, except ``keep``.
    """
    if isinstance(value, Config):
        out: dict[str, Any] = {}
        if value.kind:
            out["type"] = value.kind
        for f in dataclasses.fields(value):  # type: ignore[arg-type]
            v = getattr(value, f.name)
            if v is None:
                continue
            if not defaults and f.name not in keep and v == _default(f):
                continue
            out[f.name] = plain(v, defaults=defaults)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset):
        return sorted(plain(v, defaults=defaults) for v in value)
    if isinstance(value, (tuple, list)):
        return [plain(v, defaults=defaults) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v, defaults=defaults) for k, v in value.items()}
    return value


def scenario_to_toml(scenario: Config, *, defaults: bool = False) -> str:
    """TOML text of ``scenario``: unset (``None``) fields left out, and, unless ``defaults``,
    fields equal to their default too (``name``, ``duration``, ``warmup``, ``slo_latency`` stay)."""
    data = plain(scenario, defaults=defaults, keep=ALWAYS)
    return tomli_w.dumps(data)


def write_scenario(scenario: Config, path: str | Path, *, defaults: bool = False) -> Path:
    """Write ``scenario`` as a TOML file (UTF-8) that ``load_scenario`` reads back to an equal one."""
    p = Path(path)
    p.write_text(scenario_to_toml(scenario, defaults=defaults), encoding="utf-8")
    return p
