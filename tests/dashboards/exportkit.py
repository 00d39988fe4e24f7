"""Shared by the dashboard and alert tests: sample configs, a PromQL AST walk, tool paths."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser as pp

from dashboards import ExportConfig

SCHEMAS = Path(__file__).parents[2] / ".." / "shared" / "grafana-schema"
VARIABLES = {"$__rate_interval": "1m", "$name": ".*", "$run": ".*"}


def config(**overrides: Any) -> ExportConfig:
    """A config with every threshold set away from its default."""
    values: dict[str, Any] = {
        "edges": ("web->api",),
        "failure_rate_threshold": 0.4,
        "max_open_wait": 20.0,
        "attempt_timeout": 0.25,
        "timeout": 2.0,
        "amplification_bound": 1.2,
        "budget_floor": 5.0,
        "slo_target": 0.999,
        "slo_latency": 1.0,
        "sources": (("failure_rate_threshold", "BreakerConfig.failure_rate_threshold"),),
    }
    values.update(overrides)
    return ExportConfig(**values)


def substitute(expr: str) -> str:
    """A dashboard expression with its Grafana variables replaced by values Prometheus accepts."""
    for var, value in VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def nodes(expr: Any) -> Iterator[Any]:
    """Every node of a parsed PromQL expression, depth first."""
    yield expr
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(expr, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            yield from nodes(child)
    for arg in getattr(expr, "args", None) or []:
        yield from nodes(arg)


def parse(expr: str) -> Any:
    """The AST of ``expr``; Grafana's range variable becomes a duration, label variables stay."""
    return pp.parse(expr.replace("$__rate_interval", VARIABLES["$__rate_interval"]))


def selectors(expr: str) -> list[Any]:
    return [n for n in nodes(parse(expr)) if isinstance(n, pp.VectorSelector)]


def numbers(expr: str) -> list[float]:
    """Every number literal of ``expr`` (parsed, not grepped)."""
    return [n.val for n in nodes(parse(expr)) if isinstance(n, pp.NumberLiteral)]


def matchers(selector: Any) -> dict[str, tuple[str, str]]:
    """``{label: (op, value)}`` of a vector selector, values unescaped by the parser."""
    ops = [
        (pp.MatchOp.Equal, "="),
        (pp.MatchOp.NotEqual, "!="),
        (pp.MatchOp.Re, "=~"),
        (pp.MatchOp.NotRe, "!~"),
    ]
    return {m.name: (next(s for op, s in ops if m.op == op), m.value) for m in selector.matchers.matchers}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found (scripts/install-system-tools.sh installs it)"
    return path


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Every non-row panel of a dashboard."""
    return [p for p in model["panels"] if p["type"] != "row"]
