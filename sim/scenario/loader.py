"""Scenario files: TOML (or plain dicts) into validated ``Scenario`` objects, with dotted-path errors.

Every independent error of a file is reported at once: a part that breaks a
rule is repaired (the offending field left at its default) so that the rest of
the file is still checked, and errors that follow from one already reported
(the same path, or a path inside it) are left out.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from resilience._config import Config, ConfigError
from sim.scenario.spec import ClientGroup, CrossRuleError, Scenario, late_type
from sim.scenario.zero_delay import ZeroDelayError

__all__ = ["REQUIRED", "ScenarioError", "load_scenario", "scenario_from_dict"]

REQUIRED = ("warmup", "slo_latency")


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


_ABSOLUTE = ("clients.", "services.", "links.", "faults[")
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
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
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
            if cls is ClientGroup and key in ("breaker", "budget"):
                late = late_type(key)
                if late is None:
                    self.report(sub, v, f"needs the resilience.{key} package")
                    continue
                hint = late | None
            if isinstance(hint, type) and issubclass(hint, enum.Enum):
                kwargs[key] = v
                continue
            built = self.build(hint, v, sub)
            if built is not _BAD:
                kwargs[key] = built
        if cls is Scenario:
            return self.scenario(kwargs)
        return self.construct(cls, kwargs, path)

    def construct(self, cls: type[Config], kwargs: dict[str, Any], path: str) -> Any:
        """``cls(**kwargs)``; on a broken rule, report it and try again without that field."""
        for _ in range(len(kwargs) + 1):
            try:
                return cls(**kwargs)
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

    def scenario(self, kwargs: dict[str, Any]) -> Any:
        """The root: its own fields first (repairing as ``construct`` does), then every cross rule."""
        for _ in range(len(kwargs) + 1):
            try:
                sc = Scenario(**kwargs)
            except CrossRuleError as e:
                for p in e.problems:
                    if not (self.errors and isinstance(p, ZeroDelayError)):  # not judged on repaired parts
                        self.report(p.field, p.value, p.rule)
                return _BAD
            except ConfigError as e:
                self.report(e.field, e.value, e.rule)
                if e.field not in kwargs:
                    return _BAD
                del kwargs[e.field]
            else:
                return _BAD if self.errors else sc
        return _BAD
