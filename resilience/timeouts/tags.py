"""Per-tag timeout thresholds that change at run time (the timeout middleware's registry).

A call's threshold resolves in three steps: the explicit business tag (``tag=``
or one set with :func:`timeout_tag`) → the function's qualified name
(``module.Qualname``) → the default. Updates replace the whole table
atomically after validation: a bad update raises and the old values stay.
Readers never take the lock; they read one immutable snapshot.
"""

from __future__ import annotations

import json
import math
import threading
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .._config import Config, ConfigError, positive, rule
from ..deadline import Deadline

__all__ = ["Resolved", "TagTimeouts", "TimeoutRegistry", "qualified_name", "timeout_tag"]

F = TypeVar("F", bound=Callable[..., Any])
_TAG_ATTR = "__timeout_tag__"


def _threshold_ok(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _tag_ok(k: object) -> bool:
    return isinstance(k, str) and k != "" and k == k.strip() and len(k) <= 256


@dataclass(frozen=True, slots=True, eq=False)
class TagTimeouts(Config):
    """A validated table of thresholds in seconds: ``default`` plus one per tag.

    TOML form::

        default = 1.0
        [tags]
        "payment.confirm" = 0.8
        "inventory.check" = 0.3
    """

    default: float = field(default=1.0, metadata=rule(positive, "must be > 0 and finite"))
    tags: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.tags, Mapping):
            raise ConfigError(type(self).__name__, "tags", self.tags, "must be a table of tag = seconds")
        Config.__post_init__(self)
        for tag, value in self.tags.items():
            if not _tag_ok(tag):
                raise ConfigError(
                    type(self).__name__, "tags", tag, "keys must be non-empty strings without outer spaces"
                )
            if not _threshold_ok(value):
                raise ConfigError(
                    type(self).__name__, f"tags[{tag!r}]", value, "must be a number > 0 and finite"
                )
        frozen = types.MappingProxyType({k: float(v) for k, v in self.tags.items()})
        object.__setattr__(self, "tags", frozen)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TagTimeouts) and (self.default, dict(self.tags)) == (
            other.default,
            dict(other.tags),
        )

    def __hash__(self) -> int:
        return hash((self.default, frozenset(self.tags.items())))


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved threshold: the seconds, the key that matched, and whether it was explicit."""

    timeout: float
    key: str  # the tag, the qualified name, or "default"
    explicit: bool  # False when the default applied

    def deadline(self, now: float) -> Deadline:
        """The deadline this threshold sets for a call starting at ``now``."""
        return Deadline.after(now, self.timeout, explicit=self.explicit)


def qualified_name(fn: Callable[..., Any]) -> str:
    """``module.Qualname`` of a function (the second resolution step)."""
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}.{name}"


def timeout_tag(tag: str) -> Callable[[F], F]:
    """Decorator: declare a function's business tag (the seed's ``@Timeout(tag=...)``)."""
    if not _tag_ok(tag):
        raise ValueError(f"timeout_tag({tag!r}): must be a non-empty string without outer spaces")

    def mark(fn: F) -> F:
        setattr(fn, _TAG_ATTR, tag)
        return fn

    return mark


class TimeoutRegistry:
    """Thresholds by business tag, swapped atomically at run time; thread-safe."""

    __slots__ = ("_lock", "_table", "_version")

    def __init__(self, table: TagTimeouts | None = None) -> None:
        self._lock = threading.Lock()
        self._table = table or TagTimeouts()
        self._version = 0

    @property
    def table(self) -> TagTimeouts:
        """The current snapshot (immutable)."""
        return self._table

    @property
    def version(self) -> int:
        """Incremented by every accepted change."""
        return self._version

    def resolve(self, fn: Callable[..., Any] | None = None, tag: str | None = None) -> Resolved:
        """Threshold for a call: explicit tag → the function's tag or qualified name → default."""
        table = self._table  # one read: a consistent snapshot without the lock
        if tag is None and fn is not None:
            tag = getattr(fn, _TAG_ATTR, None)
        if tag is not None and tag in table.tags:
            return Resolved(table.tags[tag], tag, True)
        if fn is not None:
            name = qualified_name(fn)
            if name in table.tags:
                return Resolved(table.tags[name], name, True)
        return Resolved(table.default, "default", False)

    def timeout_for(self, fn: Callable[..., Any] | None = None, tag: str | None = None) -> float:
        """Seconds allowed for ``fn`` (or ``tag``)."""
        if fn is None and tag is not None:  # a tag alone (a call site's per-request lookup): no Resolved
            table = self._table
            seconds = table.tags.get(tag)
            return table.default if seconds is None else seconds
        return self.resolve(fn, tag).timeout

    def update(self, thresholds: Mapping[str, float | None], *, default: float | None = None) -> TagTimeouts:
        """Merge changes into the table (``None`` removes a tag); all or nothing."""
        if not isinstance(thresholds, Mapping):
            raise ConfigError("TagTimeouts", "tags", thresholds, "must be a table of tag = seconds")
        with self._lock:
            current = self._table
            tags = dict(current.tags)
            for key, value in thresholds.items():
                if value is None:
                    tags.pop(key, None)
                else:
                    tags[key] = value
            new = TagTimeouts(default=current.default if default is None else default, tags=tags)
            self._table = new
            self._version += 1
            return new

    def replace(self, table: TagTimeouts | Mapping[str, Any]) -> TagTimeouts:
        """Replace the whole table (a validated :class:`TagTimeouts` or its plain dict form)."""
        new = table if isinstance(table, TagTimeouts) else TagTimeouts.from_dict(table)
        with self._lock:
            self._table = new
            self._version += 1
            return new

    def load(self, path: str | Path) -> TagTimeouts:
        """Replace the table from a ``.toml`` or ``.json`` file; a bad file changes nothing."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        suffix = p.suffix.lower()
        try:
            if suffix == ".toml":
                data: Any = tomllib.loads(text)
            elif suffix == ".json":
                data = json.loads(text)
            else:
                raise ValueError(f"{p}: unsupported format {suffix!r} (use .toml or .json)")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{p}: cannot parse: {exc}") from exc
        return self.replace(data)
