"""The backtest's time-scaled rules come from the same code and differ from production in durations only."""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pp
import pytest
import yaml
from exportkit import config

import alerts
from dashboards.promql import duration

K = 60
DURATION = re.compile(r"(?<![\w.])(?:\d+(?:ms|[smhdwy]))+(?!\w)")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(text: str) -> float:
    return sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", text))


def scaled(text: str, k: float) -> str:
    """``text`` with every duration divided by ``k``."""
    return DURATION.sub(lambda m: duration(seconds(m.group(0)) / k), text)


def same_but_ranges(a: Any, b: Any, k: float) -> int:
    """Walk two ASTs together; equal except matrix ranges (b = a / k). Returns the ranges compared."""
    assert type(a) is type(b)
    if isinstance(a, pp.MatrixSelector):
        assert b.range * k == a.range, (a, b)
        return 1 + same_but_ranges(a.vector_selector, b.vector_selector, k)
    if isinstance(a, (pp.VectorSelector, pp.NumberLiteral)):
        assert str(a) == str(b)
        return 0
    count = 0
    for attr in ("lhs", "rhs", "expr", "param", "op", "modifier", "func"):
        x, y = getattr(a, attr, None), getattr(b, attr, None)
        if isinstance(x, (pp.Expr, pp.BinaryExpr, pp.AggregateExpr, pp.Call, pp.ParenExpr, pp.UnaryExpr)):
            count += same_but_ranges(x, y, k)
        elif attr == "func" and x is not None:
            assert x.name == y.name
        elif x is not None:
            assert str(x) == str(y), attr
    for x, y in zip(getattr(a, "args", None) or [], getattr(b, "args", None) or [], strict=True):
        count += same_but_ranges(x, y, k)
    return count


def test_scaled_rules_differ_from_production_only_in_durations() -> None:
    c = config(max_open_wait=30.0, flapping_window=3600.0)
    prod = yaml.safe_load(alerts.build(c)["rules.yml"])
    fast = yaml.safe_load(alerts.build(c, scale=K)["rules.scaled.yml"])
    ranges = 0
    assert len(prod["groups"]) == len(fast["groups"])
    for gp, gf in zip(prod["groups"], fast["groups"], strict=True):
        assert gp["name"] == gf["name"] and len(gp["rules"]) == len(gf["rules"])
        for rp, rf in zip(gp["rules"], gf["rules"], strict=True):
            assert set(rp) == set(rf)
            assert {k: v for k, v in rp.items() if k not in ("expr", "for", "annotations")} == {
                k: v for k, v in rf.items() if k not in ("expr", "for", "annotations")
            }
            if "for" in rp:
                assert seconds(rf["for"]) == pytest.approx(seconds(rp["for"]) / K)
            ranges += same_but_ranges(pp.parse(rp["expr"]), pp.parse(rf["expr"]), K)
            assert scaled(rp["expr"], K) == rf["expr"]
            for key, text in rp.get("annotations", {}).items():
                assert scaled(text, K) == rf["annotations"][key], key
    assert ranges >= 20  # every rate window was compared


def test_the_comparison_notices_a_changed_threshold() -> None:
    a = pp.parse("sum by (name) (rate(x[5m])) > 0.5")
    b = pp.parse("sum by (name) (rate(x[5s])) > 0.6")
    with pytest.raises(AssertionError):
        same_but_ranges(a, b, K)
    assert same_but_ranges(a, pp.parse("sum by (name) (rate(x[5s])) > 0.5"), K) == 1


def test_a_scale_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Durations.scale=0.5: must be >= 1"):
        alerts.rule_groups(config(), 0.5)
