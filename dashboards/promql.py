"""PromQL text built from the metric catalog: escaped matchers, selectors, durations, numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from resilience.metrics.catalog import MetricSpec, MetricType, metric

__all__ = [
    "Scope",
    "duration",
    "escape",
    "number",
    "regex_escape",
    "series",
]

_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def escape(value: str) -> str:
    """``value`` as the inside of a double-quoted PromQL string."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    return out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def regex_escape(value: str) -> str:
    """``value`` matched literally by an RE2 regular expression."""
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in value)


def number(value: float) -> str:
    """A PromQL number literal that parses back to exactly ``value``."""
    if not math.isfinite(value):
        raise ValueError(f"threshold {value!r}: must be finite")
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def duration(seconds: float) -> str:
    """A Prometheus duration (``90s`` -> ``1m30s``), to the millisecond; must be > 0."""
    ms = round(seconds * 1000)
    if ms <= 0:
        raise ValueError(f"duration {seconds!r} s: must be at least 1 ms")
    parts = []
    for unit, size in _UNITS:
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def series(spec: MetricSpec, suffix: str = "") -> str:
    """The exposed sample name of ``spec`` (``_bucket``/``_count``/``_sum`` for histograms)."""
    if suffix and spec.type is not MetricType.HISTOGRAM:
        raise ValueError(f"metric {spec.name!r} is a {spec.type.value}: no {suffix} series")
    if suffix not in ("", "_bucket", "_count", "_sum"):
        raise ValueError(f"unknown series suffix {suffix!r}")
    return spec.name + suffix


@dataclass(frozen=True, slots=True)
class Scope:
    """The label matchers every selector carries (the edge filter, and the run in the simulator)."""

    matchers: tuple[str, ...]

    @classmethod
    def of(cls, *pairs: tuple[str, str, str]) -> Scope:
        """``Scope.of(("name", "=~", "$name"))``: each value escaped as a PromQL string."""
        return cls(tuple(f'{label}{op}"{escape(value)}"' for label, op, value in pairs))

    @classmethod
    def edges(cls, names: tuple[str, ...]) -> Scope:
        """Exactly the edges ``names``: ``name="a"`` for one, an escaped alternation for more."""
        if len(names) == 1:
            return cls.of(("name", "=", names[0]))
        return cls.of(("name", "=~", "|".join(regex_escape(n) for n in names)))

    def select(self, name: str, suffix: str = "", **labels: str) -> str:
        """``name{scope, labels}``; ``name`` must be in the catalog."""
        spec = metric(name)
        extra = tuple(f'{k}="{escape(v)}"' for k, v in labels.items())
        unknown = sorted(set(labels) - set(spec.labels) - ({"le"} if suffix == "_bucket" else set()))
        if unknown:
            raise ValueError(f"metric {name!r} has no label {unknown[0]!r}")
        return series(spec, suffix) + "{" + ", ".join((*self.matchers, *extra)) + "}"
