"""Scenario files: TOML (or plain dicts) into validated ``Scenario`` objects, with dotted-path errors."""

from __future__ import annotations

import dataclasses
import enum
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from resilience._config import Config, ConfigError

from .scenario import ClientGroup, Scenario, late_type

__all__ = ["REQUIRED", "ScenarioError", "load_scenario", "scenario_from_dict"]

REQUIRED = ("warmup", "slo_latency")


class ScenarioError(ValueError):
    """A scenario broke a rule: ``<file>: <dotted.path>=<value>: <rule>``."""

    def __init__(self, source: str, path: str, value: object, rule: str) -> None:
        self.source = source
        self.path = path
        self.value = value
        self.rule = rule
        super().__init__(f"{source}: {path}={value!r}: {rule}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(str(path), "<toml>", p.name, str(e)) from None
    return scenario_from_dict(data, source=str(path))


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate plain data (as read from TOML/JSON) into a ``Scenario``.

    ``warmup`` and ``slo_latency`` must be given: every scenario declares them.
    """
    if isinstance(data, Mapping):
        for key in REQUIRED:
            if key not in data:
                raise ScenarioError(source, key, None, "is required (every scenario declares it)")
    return _Builder(source).build(Scenario, data, "")


def _join(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


def _kinds(base: type[Config]) -> dict[str, type[Config]]:
    found: dict[str, type[Config]] = {}
    stack: list[type[Config]] = [base]
    while stack:
        c = stack.pop()
        if dataclasses.is_dataclass(c) and c.kind and c.kind not in found:
            found[c.kind] = c
        stack.extend(c.__subclasses__())
    return found


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, value: object, text: str) -> ScenarioError:
        return ScenarioError(self.source, path, value, text)

    def build(self, tp: Any, value: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            return self.build(inner[0], value, path) if len(inner) == 1 else value
        if isinstance(tp, type) and issubclass(tp, Config):
            return self.config(tp, value, path)
        if origin is dict:
            if not isinstance(value, Mapping):
                raise self.error(path, value, "must be a table")
            return {k: self.build(args[1], v, _join(path, str(k))) for k, v in value.items()}
        if origin is tuple:
            if not isinstance(value, (list, tuple)):
                raise self.error(path, value, "must be an array")
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(self.build(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
            return tuple(value)
        return value

    def config(self, cls: type[Config], value: Any, path: str) -> Config:
        if not isinstance(value, Mapping):
            raise self.error(path, value, "must be a table")
        if not dataclasses.is_dataclass(cls):  # an abstract base: pick the concrete class by ``type``
            kinds = _kinds(cls)
            tag = value.get("type")
            if tag not in kinds:
                raise self.error(_join(path, "type"), tag, f"must be one of {', '.join(sorted(kinds))}")
            cls = kinds[tag]
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, v in value.items():
            sub = _join(path, key)
            if key == "type" and cls.kind:
                if v != cls.kind:
                    raise self.error(sub, v, f"must be {cls.kind!r}")
                continue
            if key not in names:
                raise self.error(sub, v, "unknown field")
            hint = hints[key]
            if cls is ClientGroup and key in ("breaker", "budget"):
                late = late_type(key)
                if late is None:
                    raise self.error(sub, v, f"needs the resilience.{key} package")
                hint = late | None
            if isinstance(hint, type) and issubclass(hint, enum.Enum):
                kwargs[key] = v
                continue
            kwargs[key] = self.build(hint, v, sub)
        try:
            return cls(**kwargs)
        except ConfigError as e:
            field = e.field
            if isinstance(field, str) and field.startswith(("clients.", "services.", "links.", "faults[")):
                raise self.error(field, e.value, e.rule) from None
            raise self.error(_join(path, field), e.value, e.rule) from None
        except TypeError as e:
            raise self.error(path or "<root>", dict(value), str(e)) from None
