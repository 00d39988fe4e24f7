"""A JSON Schema of scenario files, generated from the scenario dataclasses."""

from __future__ import annotations

import builtins
import dataclasses
import enum
import types
import typing
from typing import Any

from resilience._config import Config
from sim.scenario.build import _kinds
from sim.scenario.loader import REQUIRED
from sim.scenario.spec import Scenario, late_type

__all__ = ["scenario_schema"]


def _rules(f: dataclasses.Field[Any]) -> str:
    return "; ".join(text for _, text in f.metadata.get("rules", ()))


class _Gen:
    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def type(self, tp: Any, owner: type | None = None, name: str = "") -> dict[str, Any]:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.type(a) for a in args]}
        if tp is type(None):
            return {"type": "null"}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        if tp is str:
            return {"type": "string"}
        if tp is Any:
            return {}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.type(args[1])}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.type(args[0])}
            return {"type": "array", "prefixItems": [self.type(a) for a in args]}
        if isinstance(tp, type) and issubclass(tp, Config):
            return self.config(tp)
        return {}

    def config(self, cls: builtins.type[Config]) -> dict[str, Any]:
        if not dataclasses.is_dataclass(cls):
            return {"oneOf": [self.config(c) for _, c in sorted(_kinds(cls).items())]}
        key = cls.__name__
        if key not in self.defs:
            self.defs[key] = {}
            hints = typing.get_type_hints(cls)
            props: dict[str, Any] = {}
            if cls.kind:
                props["type"] = {"const": cls.kind}
            for f in dataclasses.fields(cls):
                if "late" in f.metadata:  # a config class resolved when the scenario is loaded
                    late = late_type(f.metadata["late"])
                    p = {"anyOf": [self.type(late), {"type": "null"}]} if late else {}
                else:
                    p = self.type(hints[f.name], cls, f.name)
                text = _rules(f)
                if text:
                    p = {**p, "description": text}
                props[f.name] = p
            self.defs[key] = {
                "type": "object",
                "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
                "properties": props,
                "additionalProperties": False,
                **({"required": ["type"]} if cls.kind else {}),
            }
        return {"$ref": f"#/$defs/{key}"}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) that scenario TOML files (read as JSON data) follow."""
    gen = _Gen()
    root = gen.type(Scenario)
    gen.defs["Scenario"]["required"] = list(REQUIRED)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Resilience Workbench scenario",
        **root,
        "$defs": gen.defs,
    }
