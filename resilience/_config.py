"""Frozen, validated configuration values that round-trip to plain dicts."""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

__all__ = ["Config", "ConfigError", "rule"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value broke a rule: ``<Config>.<field>=<value>: <rule>``."""

    def __init__(self, config: str, field: str, value: object, rule: str) -> None:
        self.config = config
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{config}.{field}={value!r}: {rule}")


Check = Callable[[Any], bool]


def rule(check: Check, text: str) -> dict[str, object]:
    """Field metadata: ``field(metadata=rule(lambda v: v > 0, "must be > 0"))``."""
    return {"rules": ((check, text),)}


def positive(v: float) -> bool:
    return math.isfinite(v) and v > 0


def non_negative(v: float) -> bool:
    return math.isfinite(v) and v >= 0


def _type_rule(tp: Any) -> tuple[Check, str] | None:
    """A check that a value has the annotated type (numbers, strings, bools)."""
    if tp is float:
        return (
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "must be a number",
        )
    if tp is int:
        return (lambda v: isinstance(v, int) and not isinstance(v, bool), "must be an integer")
    if tp is bool:
        return (lambda v: isinstance(v, bool), "must be true or false")
    if tp is str:
        return (lambda v: isinstance(v, str), "must be a string")
    if isinstance(tp, type) and issubclass(tp, Config):
        kinds = ", ".join(sorted(c.kind for c in _concrete_subclasses(tp)))
        text = f"must be a {tp.__name__} ({kinds})" if kinds and tp.kind == "" else f"must be a {tp.__name__}"
        return (lambda v: isinstance(v, tp), text)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and type(None) in typing.get_args(tp):
            inner = _type_rule(args[0])
            if inner is None:
                return None
            check, text = inner
            return (lambda v: v is None or check(v), text.replace("must be", "must be null or"))
    return None


_ITEM_NAMES = {float: "numbers", int: "integers", bool: "true/false values", str: "strings"}


def _is_float(tp: Any) -> bool:
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    return tp is float or (union and float in typing.get_args(tp))


def _check_tuple(cfg: Config, name: str, tp: Any, value: Any) -> Any:
    """``tuple[X, ...]`` fields: accept lists (stored as tuples), check and convert the items."""
    owner = type(cfg).__name__
    if isinstance(value, list):
        value = tuple(value)
        object.__setattr__(cfg, name, value)
    if not isinstance(value, tuple):
        raise ConfigError(owner, name, value, "must be a list")
    args = typing.get_args(tp)
    inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        try:
            items = tuple(inner(v) for v in value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in inner)
            raise ConfigError(owner, name, value, f"must be a list of {allowed}") from None
        object.__setattr__(cfg, name, items)
        return items
    item_name = _ITEM_NAMES.get(inner) if isinstance(inner, type) else None
    check = _type_rule(inner) if item_name else None
    if check is not None and not all(check[0](v) for v in value):
        raise ConfigError(owner, name, value, f"must be a list of {item_name}")
    if inner is float and any(isinstance(v, int) for v in value):
        value = tuple(float(v) for v in value)
        object.__setattr__(cfg, name, value)
    return value


class Config:
    """Base for frozen dataclass configs.

    Subclasses are ``@dataclass(frozen=True, slots=True)``; field rules come from
    ``metadata=rule(...)`` and from an optional ``_cross_checks`` method that
    raises ``self._error(field, rule)`` for rules spanning fields.
    """

    __slots__ = ()
    kind: ClassVar[str] = ""  # tag written by to_dict() for polymorphic configs

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            tp = hints.get(f.name)
            if isinstance(tp, type) and issubclass(tp, enum.Enum) and not isinstance(value, tp):
                try:
                    object.__setattr__(self, f.name, tp(value))
                except ValueError:
                    allowed = ", ".join(str(m.value) for m in tp)
                    raise ConfigError(
                        type(self).__name__, f.name, value, f"must be one of {allowed}"
                    ) from None
                continue
            if _is_float(tp) and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            if typing.get_origin(tp) is tuple:
                value = _check_tuple(self, f.name, tp, value)
            type_check = _type_rule(tp)
            if type_check is not None and not type_check[0](value):
                raise ConfigError(type(self).__name__, f.name, value, type_check[1])
            if isinstance(value, float) and math.isnan(value):
                raise ConfigError(type(self).__name__, f.name, value, "must not be NaN")
            for check, text in f.metadata.get("rules", ()):
                if value is None:
                    continue
                if not check(value):
                    raise ConfigError(type(self).__name__, f.name, value, text)
        self._cross_checks()

    def _cross_checks(self) -> None:
        """Rules that span several fields; override in subclasses."""

    def _error(self, field: str, rule: str) -> ConfigError:
        return ConfigError(type(self).__name__, field, getattr(self, field), rule)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, numbers, bools, None, lists, dicts) for TOML/JSON."""
        out: dict[str, Any] = {}
        if self.kind:
            out["type"] = self.kind
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from plain data; unknown keys are errors, nested configs recurse."""
        if not isinstance(data, Mapping):
            raise ConfigError(cls.__name__, "<root>", data, "must be a table/mapping")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "type" and cls.kind:
                if value != cls.kind:
                    raise ConfigError(cls.__name__, "type", value, f"must be {cls.kind!r}")
                continue
            if key not in names:
                raise ConfigError(cls.__name__, key, value, "unknown field")
            kwargs[key] = _from_plain(hints[key], value, cls.__name__, key)
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items) if isinstance(value, frozenset) else items
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _from_plain(tp: Any, value: Any, owner: str, field: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        candidates = [a for a in args if a is not type(None)]
        configs = [a for a in candidates if isinstance(a, type) and issubclass(a, Config)]
        if len(configs) == 1 and isinstance(value, Mapping):
            return _from_plain(configs[0], value, owner, field)
        if configs and isinstance(value, Mapping):
            concrete = [sub for c in configs for sub in _concrete_subclasses(c)]
            return _polymorphic(concrete, value, owner, field)
        if len(candidates) == 1:
            return _from_plain(candidates[0], value, owner, field)
        return value
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, Mapping):
            subs = _concrete_subclasses(tp)
            if len(subs) > 1 or (subs and subs[0] is not tp):
                return _polymorphic(subs, value, owner, field)
            return tp.from_dict(value)
        return value
    if origin in (tuple, frozenset, list) and isinstance(value, (list, tuple)):
        inner = args[0] if args else Any
        items = [_from_plain(inner, v, owner, field) for v in value]
        return frozenset(items) if origin is frozenset else tuple(items)
    return value


def _concrete_subclasses(base: type[Config]) -> list[type[Config]]:
    """Dataclass subclasses with a ``kind``, one per kind.

    ``@dataclass(slots=True)`` re-creates the class, and the discarded original
    stays in ``__subclasses__()``; the newest class of a kind wins.
    """
    by_kind: dict[str, type[Config]] = {}
    queue: list[type[Config]] = [base]
    while queue:
        c = queue.pop(0)
        if dataclasses.is_dataclass(c) and c.kind:
            by_kind[c.kind] = c
        queue.extend(c.__subclasses__())
    return list(by_kind.values())


def _polymorphic(classes: list[type[Config]], value: Mapping[str, Any], owner: str, field: str) -> Config:
    tag = value.get("type")
    by_kind = {c.kind: c for c in classes if c.kind}
    if tag not in by_kind:
        allowed = ", ".join(sorted(by_kind))
        raise ConfigError(owner, f"{field}.type", tag, f"must be one of {allowed}")
    return by_kind[tag].from_dict(value)
