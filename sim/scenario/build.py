"""Plain data (as read from TOML/JSON) into validated scenario parts, with every error as a dotted path.

Every independent error is reported at once: a part that breaks a rule is
repaired (the offending field left at its default) so that the rest is still
checked, and errors that follow from one already reported (the same path, or a
path inside it) are left out. Nothing here knows the ``Scenario`` class itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import importlib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from resilience._config import Config, ConfigError
from sim.scenario.zero_delay import ZeroDelayError

__all__ = ["CrossRuleError", "ScenarioError", "config_from_dict", "late_type"]

C = TypeVar("C", bound=Config)


class ScenarioError(ValueError):
    """A scenario broke a rule: ``<file>: <dotted.path>=<value>: <rule>`` (``<file>: <rule>`` for the file).

    ``errors`` holds every error found in the file (this one first); ``str()`` has one line per error.
    """

    def __init__(
        self, source: str, path: str, value: object, rule: str, *, more: Sequence[ScenarioError] = ()
    ) -> None:
        self.source = source
        self.path = path
        self.value = value
        self.rule = rule
        text = f"{source}: {path}={value!r}: {rule}" if path else f"{source}: {rule}"
        self.line = " ".join(text.split("\n"))
        self.errors: tuple[ScenarioError, ...] = (self, *more)
        super().__init__("\n".join(e.line for e in self.errors))


class CrossRuleError(ConfigError):
    """Rules spanning a scenario's parts are broken; ``problems`` lists each (the first is this error)."""

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(first.config, first.field, first.value, first.rule)
        self.problems = problems


_LATE: dict[str, tuple[str, str]] = {
    "breaker": ("resilience.breaker", "BreakerConfig"),
    "budget": ("resilience.budget", "BudgetConfig"),
    "balancer": ("sim.scenario.balancing", "BalancerConfig"),
    "gate": ("sim.scenario.gates", "GateConfig"),
    "cache": ("sim.scenario.stores", "CacheConfig"),
    "flood": ("sim.scenario.gates", "FloodConfig"),
    "side_effects": ("sim.scenario.stores", "SideEffectsConfig"),
    "compensation": ("sim.scenario.stores", "CompensationConfig"),
}


def late_type(field_name: str) -> type[Config] | None:
    """The config class of a late-bound field (``breaker``, ``budget``, ``balancer``, ``gate``, ``cache``),
    if the module defining it is present."""
    module, name = _LATE[field_name]
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def config_from_dict(cls: type[C], data: Mapping[str, Any], *, source: str = "<dict>") -> C:
    """Validate plain data into any scenario part ``cls`` (``Scenario``, ``ClientGroup``, …), with the
    checks and messages of a scenario file (defaults fill what ``data`` leaves out)."""
    b = _Builder(source)
    out = b.build(cls, data, "")
    if b.errors:
        first, *more = b.errors
        raise ScenarioError(first.source, first.path, first.value, first.rule, more=more)
    assert isinstance(out, cls)
    return out


def _join(path: str, key: str) -> str:
    return key if not path else f"{path}.{key}"


def _related(a: str, b: str) -> bool:
    """True when one path is the other or lies inside it."""
    if len(a) > len(b):
        a, b = b, a
    return b == a or b.startswith((a + ".", a + "["))


def _kinds(base: type[Config]) -> dict[str, type[Config]]:
    found: dict[str, type[Config]] = {}
    stack: list[type[Config]] = [base]
    while stack:
        c = stack.pop()
        if dataclasses.is_dataclass(c) and c.kind and c.kind not in found:
            found[c.kind] = c
        stack.extend(c.__subclasses__())
    return found


def _unknown(key: str, names: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean `{close[0]}`?"
    return f"unknown field (known: {', '.join(sorted(names))})"


_ABSOLUTE = ("clients.", "services.", "links.", "edges.", "faults[")
_BAD: Any = object()  # a part that could not be built, even repaired


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[ScenarioError] = []

    def report(self, path: str, value: object, text: str) -> None:
        if not any(_related(path, e.path) for e in self.errors):
            self.errors.append(ScenarioError(self.source, path, value, text))

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
                self.report(path, value, "must be a table")
                return _BAD
            built = {k: self.build(args[1], v, _join(path, str(k))) for k, v in value.items()}
            return {k: v for k, v in built.items() if v is not _BAD}
        if origin is tuple:
            if not isinstance(value, (list, tuple)):
                self.report(path, value, "must be an array")
                return _BAD
            if len(args) == 2 and args[1] is Ellipsis:
                items = [self.build(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
                if path == "faults":  # keep the indices of the faults after a broken one
                    return tuple(None if v is _BAD else v for v in items)
                return tuple(v for v in items if v is not _BAD)
            return tuple(value)
        return value

    def config(self, cls: type[Config], value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            self.report(path or "<root>", value, "must be a table")
            return _BAD
        if not dataclasses.is_dataclass(cls):  # an abstract base: pick the concrete class by ``type``
            kinds = _kinds(cls)
            tag = value.get("type")
            if tag not in kinds:
                self.report(_join(path, "type"), tag, f"must be one of {', '.join(sorted(kinds))}")
                return _BAD
            cls = kinds[tag]
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        names = {f.name for f in fields}
        late_fields = {f.name: f.metadata["late"] for f in fields if "late" in f.metadata}
        kwargs: dict[str, Any] = {}
        for key, v in value.items():
            sub = _join(path, key)
            if key == "type" and cls.kind:
                if v != cls.kind:
                    self.report(sub, v, f"must be {cls.kind!r}")
                continue
            if key not in names:
                self.report(sub, v, _unknown(key, names | ({"type"} if cls.kind else set())))
                continue
            hint = hints[key]
            if key in late_fields:
                late = late_type(late_fields[key])
                if late is None:
                    self.report(sub, v, f"needs the {_LATE[late_fields[key]][0]} package")
                    continue
                hint = late | None
            if isinstance(hint, type) and issubclass(hint, enum.Enum):
                kwargs[key] = v
                continue
            built = self.build(hint, v, sub)
            if built is not _BAD:
                kwargs[key] = built
        return self.construct(cls, kwargs, path)

    def construct(self, cls: type[Config], kwargs: dict[str, Any], path: str) -> Any:
        """``cls(**kwargs)``; on a broken rule, report it and try again without that field."""
        for _ in range(len(kwargs) + 1):
            try:
                return cls(**kwargs)
            except CrossRuleError as e:  # the root's rules spanning its parts: report each
                for p in e.problems:
                    if not (self.errors and isinstance(p, ZeroDelayError)):  # not judged on repaired parts
                        self.report(p.field, p.value, p.rule)
                return _BAD
            except ConfigError as e:
                field = e.field
                full = field if field.startswith(_ABSOLUTE) else _join(path, field)
                self.report(full, e.value, e.rule)
                if field not in kwargs:
                    return _BAD
                del kwargs[field]
            except (TypeError, ValueError) as e:
                self.report(path or "<root>", dict(kwargs), str(e))
                return _BAD
        return _BAD
