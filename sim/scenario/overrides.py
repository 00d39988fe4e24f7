"""Dotted-path overrides of a scenario (``clients.web.breaker.failure_rate_threshold=0.2``), validated
like a scenario file, and the ``PATH=VALUE`` text form of the command line's ``--set``."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from resilience._config import Config
from sim.scenario.build import ScenarioError, _kinds, config_from_dict, late_type
from sim.scenario.writer import ALWAYS, plain

S = TypeVar("S", bound=Config)

__all__ = ["apply_overrides", "flat_parameters", "parse_path", "parse_set", "parse_value"]

_TOKEN = re.compile(r"([A-Za-z0-9_-]+)((?:\[\d+\])*)")
_BARE = re.compile(r"[A-Za-z0-9_./:@+-]*")
_TABLES = {"clients": "client group", "services": "service", "links": "link"}


def parse_path(path: str) -> list[str | int]:
    """``faults[0].start`` → ``["faults", 0, "start"]``; a malformed path raises ``ValueError``."""
    out: list[str | int] = []
    for part in path.split("."):
        m = _TOKEN.fullmatch(part)
        if m is None:
            raise ValueError(
                "must be a dotted path of names and [index]es, e.g. clients.web.retry.max_attempts"
            )
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return out


def parse_value(text: str) -> Any:
    """A ``--set`` value read as TOML (``0.2``, ``true``, ``"x"``, ``[1, 2]``, ``{ a = 1 }``);
    a bare word (letters, digits, ``_ - . / : @ +``) that is not TOML is the string itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as e:
        if _BARE.fullmatch(text.strip()):
            return text.strip()
        raise ValueError(f"is not a TOML value ({e}); quote strings with spaces") from None


def parse_set(text: str, source: str) -> tuple[str, Any]:
    """``"PATH=VALUE"`` → ``(path, value)``; a malformed one raises ``ScenarioError``."""
    path, eq, raw = text.partition("=")
    path = path.strip()
    if not eq or not path:
        raise ScenarioError(source, "", None, f"--set {text!r}: must be PATH=VALUE")
    try:
        parse_path(path)
        value = parse_value(raw)
    except ValueError as e:
        raise ScenarioError(source, path, raw, str(e)) from None
    return path, value


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return inner[0] if len(inner) == 1 else Any
    return tp


def _field_type(cls: type[Config], name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)  # type: ignore[arg-type]
    if "late" in f.metadata:
        return late_type(f.metadata["late"]) or Any
    return _unwrap(typing.get_type_hints(cls)[name])


def _concrete(tp: Any, node: Any) -> Any:
    """An abstract config type (a workload, a distribution, a fault …) made concrete by the node's tag."""
    if isinstance(tp, type) and issubclass(tp, Config) and not dataclasses.is_dataclass(tp):
        tag = node.get("type") if isinstance(node, Mapping) else None
        return _kinds(tp).get(tag, Any) if isinstance(tag, str) else Any
    return tp


def _label(tokens: list[str | int]) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else (f".{t}" if out else t)
    return out


class _Problem(Exception):
    pass


def _set(root: type[Config], data: dict[str, Any], tokens: list[str | int], value: Any) -> None:
    """Put ``value`` at ``tokens`` inside ``data`` (``root`` as plain data); bad paths raise ``_Problem``."""
    node: Any = data
    tp: Any = root
    for i, tok in enumerate(tokens):
        last = i == len(tokens) - 1
        here, prefix = _label(tokens[: i + 1]), _label(tokens[:i])
        tp = _concrete(tp, node)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, Config):
            names = [f.name for f in dataclasses.fields(tp)] + (["type"] if tp.kind else [])  # type: ignore[arg-type]
            if not isinstance(tok, str) or tok not in names:
                close = difflib.get_close_matches(str(tok), names, n=1, cutoff=0.6)
                hint = f"did you mean `{close[0]}`?" if close else f"known: {', '.join(sorted(names))}"
                where = f" in {prefix}" if prefix else ""
                raise _Problem(f"unknown field `{tok}`{where}; {hint}")
            sub_tp = Any if tok == "type" else _field_type(tp, tok)
        elif origin is dict:
            if not isinstance(tok, str):
                raise _Problem(f"{prefix} is a table; use .name, not [{tok}]")
            if tok not in node and not last:
                kind = _TABLES.get(prefix, "entry")
                known = ", ".join(sorted(node)) or "none"
                raise _Problem(f"{here} is absent: no {kind} named `{tok}` (known: {known})")
            sub_tp = typing.get_args(tp)[1]
        elif origin is tuple:
            if not isinstance(tok, int):
                raise _Problem(f"{prefix} is an array; use {prefix}[index]")
            if tok >= len(node):
                raise _Problem(f"{here} is absent: {prefix} has {len(node)} item(s)")
            sub_tp = _unwrap(typing.get_args(tp)[0])
        elif tp is Any and isinstance(node, dict) and isinstance(tok, str):
            sub_tp = Any  # left to the validation of the whole scenario
        elif tp is Any and isinstance(node, list) and isinstance(tok, int) and tok < len(node):
            sub_tp = Any
        else:
            raise _Problem(f"{prefix} is a value, not a table")
        if last:
            node[tok] = value
            return
        child = node[tok]
        if child is None:
            example = (
                f"{here}={{ {tokens[i + 1]} = ... }}" if isinstance(tokens[i + 1], str) else f"{here}=[...]"
            )
            raise _Problem(f"table {here} is absent (not set); set the whole table first, e.g. {example}")
        if not isinstance(child, (dict, list)):
            raise _Problem(f"{here} is a value, not a table")
        node, tp = child, sub_tp


def apply_overrides(
    scenario: S, overrides: Iterable[tuple[str, Any]] | Mapping[str, Any], *, source: str
) -> S:
    """``scenario`` with each ``(dotted path, value)`` set, validated like a scenario file.

    Values are plain data (as read from TOML) or configs. Every problem is reported in one
    ``ScenarioError`` in the file form ``<source>: <dotted.path>=<value>: <rule>``.
    """
    items = list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides)
    if not items:
        return scenario
    data = copy.deepcopy(scenario.to_dict())
    problems: list[ScenarioError] = []
    for path, value in items:
        try:
            tokens = parse_path(path)
            _set(type(scenario), data, tokens, plain(value))
        except (ValueError, _Problem) as e:
            problems.append(ScenarioError(source, path, value, str(e)))
    if problems:
        first, *more = problems
        raise ScenarioError(first.source, first.path, first.value, first.rule, more=more)
    return config_from_dict(type(scenario), data, source=source)


def flat_parameters(scenario: Config, *, defaults: bool = False) -> dict[str, Any]:
    """Every setting of ``scenario`` by dotted path (``clients.web.retry.max_attempts``: 3); arrays of
    numbers stay lists. Without ``defaults``, settings equal to their default are left out."""
    out: dict[str, Any] = {}

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else k, x)
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, x in enumerate(v):
                walk(f"{prefix}[{i}]", x)
        else:
            out[prefix] = v

    walk("", plain(scenario, defaults=defaults, keep=ALWAYS))
    return out
