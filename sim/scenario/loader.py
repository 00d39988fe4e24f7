"""Scenario files: TOML (or plain dicts) into validated ``Scenario`` objects, with dotted-path errors.

Every independent error of a file is reported at once (see ``sim.scenario.build``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.scenario.build import ScenarioError, _Builder, config_from_dict
from sim.scenario.spec import Scenario

__all__ = ["REQUIRED", "ScenarioError", "config_from_dict", "load_scenario", "scenario_from_dict"]

REQUIRED = ("warmup", "slo_latency")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file (UTF-8); every problem raises one ``ScenarioError``."""
    p, source = Path(path), str(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(source, "", None, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(source, "", None, "is a directory, not a scenario file") from None
    except OSError as e:
        raise ScenarioError(source, "", None, f"cannot be read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ScenarioError(
            source, "", None, f"line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(source, "", None, _toml_message(str(e))) from None
    return scenario_from_dict(data, source=source)


def _toml_message(text: str) -> str:
    """``Invalid value (at line 1, column 12)`` → ``line 1, column 12: invalid TOML: invalid value``."""
    m = re.fullmatch(r"(?s)(.*?)\s*\(at (line \d+, column \d+|end of document)\)", text)
    if m is None:
        return f"invalid TOML: {text}"
    what, where = m.group(1), m.group(2)
    return f"{where}: invalid TOML: {what[:1].lower()}{what[1:]}"


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate plain data (as read from TOML/JSON) into a ``Scenario``.

    ``warmup`` and ``slo_latency`` must be given: every scenario declares them.
    """
    b = _Builder(source)
    if isinstance(data, Mapping):
        for key in REQUIRED:
            if key not in data:
                b.report(key, None, "is required (every scenario declares it)")
    sc = b.build(Scenario, data, "")
    if b.errors:
        first, *more = b.errors
        raise ScenarioError(first.source, first.path, first.value, first.rule, more=more)
    assert isinstance(sc, Scenario)
    return sc
