"""The public API as text: every exported name with its kind, signature, fields and members.

``python -m resilience._api`` prints a deterministic, sorted snapshot. The
committed copy (``tests/resilience/api_snapshot.txt``) makes every change to
a public name, signature, default, config field or enum member visible in
review; ``make api-snapshot`` regenerates it when the change is intended.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import itertools
import re
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

__all__ = ["PACKAGES", "documentation", "render"]

PACKAGES: tuple[str, ...] = (
    "resilience",
    "resilience.core",
    "resilience.instrumentation",
    "resilience.testing",
    "resilience.admission",
    "resilience.breaker",
    "resilience.budget",
    "resilience.drivers",
    "resilience.fallback",
    "resilience.idempotency",
    "resilience.metrics",
    "resilience.timeouts",
)
"""The modules whose ``__all__`` is the public API: the front door first, then ``resilience.core``."""

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_INTERNAL_BASES = (object, enum.Enum, enum.IntEnum, tuple, Exception, BaseException, ValueError)


class _Text:
    """An annotation shown as its source text (no quotes)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _annotation(ann: Any) -> str:
    if ann is inspect.Parameter.empty:
        return ""
    if isinstance(ann, str):
        return ann
    if isinstance(ann, typing.ForwardRef):
        return ann.__forward_arg__
    if isinstance(ann, types.UnionType):
        return " | ".join(_annotation(a) for a in typing.get_args(ann))
    if ann is type(None):
        return "None"
    if isinstance(ann, type) and not isinstance(ann, types.GenericAlias):
        return str(ann.__qualname__ if ann.__module__ != "builtins" else ann.__name__)
    return _ADDRESS.sub("", repr(ann)).replace("typing.", "")


def _value(v: Any) -> str:
    """A stable repr: sets sorted, no memory addresses, enums as ``Cls.NAME``."""
    if isinstance(v, enum.Enum):
        return f"{type(v).__name__}.{v.name}"
    if isinstance(v, (set, frozenset)):
        inner = ", ".join(sorted(_value(x) for x in v))
        return f"{type(v).__name__}({{{inner}}})" if v else f"{type(v).__name__}()"
    if isinstance(v, dict):
        return (
            "{"
            + ", ".join(f"{_value(k)}: {_value(x)}" for k, x in sorted(v.items(), key=lambda i: str(i[0])))
            + "}"
        )
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        items = [_value(x) for x in v]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        inner = ", ".join(f"{f.name}={_value(getattr(v, f.name))}" for f in dataclasses.fields(v) if f.repr)
        return f"{type(v).__name__}({inner})"
    if callable(v) and hasattr(v, "__qualname__"):
        return str(v.__qualname__)
    return _ADDRESS.sub("", repr(v))


def _signature(obj: Any, *, drop_self: bool = False) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = []
    for i, p in enumerate(sig.parameters.values()):
        if drop_self and i == 0 and p.name in ("self", "cls"):
            continue
        ann = _Text(_annotation(p.annotation)) if p.annotation is not p.empty else p.empty
        default = _Text(_value(p.default)) if p.default is not p.empty else p.empty
        params.append(p.replace(annotation=ann, default=default))
    ret = sig.return_annotation
    ret_text = _Text(_annotation(ret)) if ret is not sig.empty else sig.empty
    return str(sig.replace(parameters=params, return_annotation=ret_text))


def _own_doc(obj: Any) -> str | None:
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return None
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and doc.startswith(f"{obj.__name__}("):
        return None  # the signature dataclasses write when a class has no docstring
    return doc


def _attribute_doc(name: str, obj: Any) -> str | None:
    """The string literal right after ``name = ...`` in the module that defines it."""
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("resilience") or vars(module).get(name) is not obj:
            continue
        try:
            tree = ast.parse(inspect.getsource(module))
        except (OSError, TypeError):
            continue
        for stmt, after in itertools.pairwise(tree.body):
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets = stmt.targets
            elif isinstance(stmt, ast.AnnAssign):
                targets = [stmt.target]
            named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
            if named and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                text = after.value.value
                return text if isinstance(text, str) else None
    return None


def documentation(name: str, obj: Any) -> str | None:
    """The docstring of an exported name: its own, or an attribute docstring for data."""
    if isinstance(obj, type) or callable(obj) or inspect.ismodule(obj):
        return _own_doc(obj) or _attribute_doc(name, obj)  # aliases carry an attribute docstring
    return _attribute_doc(name, obj)


def _members(cls: type) -> Iterator[str]:
    """Public methods, properties and attributes defined by the project's classes."""
    seen: dict[str, str] = {}
    hints: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass in _INTERNAL_BASES or not klass.__module__.startswith("resilience"):
            continue
        for attr, ann in inspect.get_annotations(klass).items():
            hints[attr] = _annotation(ann)
        for attr, value in klass.__dict__.items():
            if attr.startswith("_") and attr != "__call__":
                continue
            if isinstance(value, property):
                ret = (
                    inspect.signature(value.fget).return_annotation if value.fget else inspect.Signature.empty
                )
                seen[attr] = f"property {attr} -> {_annotation(ret)}"
            elif isinstance(value, classmethod):
                seen[attr] = f"classmethod {attr}{_signature(value.__func__, drop_self=True)}"
            elif isinstance(value, staticmethod):
                seen[attr] = f"staticmethod {attr}{_signature(value.__func__)}"
            elif inspect.isfunction(value):
                label = "async method" if inspect.iscoroutinefunction(value) else "method"
                seen[attr] = f"{label} {attr}{_signature(value, drop_self=True)}"
            elif isinstance(value, types.MemberDescriptorType):
                seen[attr] = f"attribute {attr}"
        for attr in klass.__dict__.get("__slots__", ()):
            if not attr.startswith("_") and attr not in seen:
                seen[attr] = f"attribute {attr}"
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    fields |= set(getattr(cls, "_fields", ()))
    for attr, ann in hints.items():
        if attr.startswith("_") or attr in fields or attr == "kind":
            continue
        if attr not in seen or seen[attr] == f"attribute {attr}":
            seen[attr] = f"attribute {attr}: {ann}"
    for attr in sorted(seen):
        if attr not in fields:
            yield seen[attr]


def _describe(name: str, obj: Any) -> Iterator[str]:
    if inspect.ismodule(obj):
        yield f"{name}: module"
    elif isinstance(obj, type) and issubclass(obj, enum.Enum):
        yield f"{name}: enum"
        for member in obj:
            yield f"  member {member.name} = {member.value!r}"
        yield from (f"  {m}" for m in _members(obj))
    elif isinstance(obj, type) and dataclasses.is_dataclass(obj):
        base = next((c for c in obj.__mro__[1:] if c.__name__ == "Config"), None)
        kind = getattr(obj, "kind", "") if base is not None else ""
        label = "config" if base is not None else "dataclass"
        yield f"{name}: {label}" + (f' (type = "{kind}")' if kind else "")
        yield f"  signature {_signature(obj)}"
        for f in dataclasses.fields(obj):
            yield f"  {_field(obj, f)}"
        yield from (f"  {m}" for m in _members(obj))
    elif isinstance(obj, type) and getattr(obj, "_is_protocol", False):
        yield f"{name}: protocol"
        yield from (f"  {m}" for m in _members(obj))
    elif isinstance(obj, type) and hasattr(obj, "_fields"):
        yield f"{name}: namedtuple"
        yield f"  signature {_signature(obj)}"
        yield from (f"  {m}" for m in _members(obj))
    elif isinstance(obj, type):
        kind = "exception" if issubclass(obj, BaseException) else "class"
        yield f"{name}: {kind}"
        yield f"  signature {_signature(obj)}"
        yield from (f"  {m}" for m in _members(obj))
    elif isinstance(obj, types.UnionType):
        yield f"{name}: alias = {_annotation(obj)}"
    elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
        yield f"{name}: function{_signature(obj)}"
    elif isinstance(obj, dict):
        yield f"{name}: dict"
        for key in sorted(obj, key=str):
            yield f"  {_value(key)}: {_value(obj[key])}"
    else:
        yield f"{name}: {type(obj).__name__} = {_value(obj)}"


def _field(cls: type, f: dataclasses.Field[Any]) -> str:
    hints = typing.get_type_hints(cls)
    ann = f.type if isinstance(f.type, str) else _annotation(hints.get(f.name, f.type))
    if f.default is not dataclasses.MISSING:
        default = f" = {_value(f.default)}"
    elif f.default_factory is not dataclasses.MISSING:
        default = f" = {_value(f.default_factory())}"
    else:
        default = ""
    rules = "; ".join(text for _, text in f.metadata.get("rules", ()))
    return f"field {f.name}: {ann}{default}" + (f"  [{rules}]" if rules else "")


def render(packages: tuple[str, ...] = PACKAGES) -> str:
    """The snapshot text for ``packages``."""
    lines = ["# The public API of resilience. Regenerate with `make api-snapshot`; review every change."]
    for package in packages:
        module = importlib.import_module(package)
        lines.append("")
        lines.append(f"[{package}]")
        for name in sorted(getattr(module, "__all__", ())):
            lines.extend(_describe(name, getattr(module, name)))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
