"""Every panel expression parses (promtool and a PromQL parser), names catalog metrics, aggregates by edge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import promql_parser as pp
import pytest
import yaml
from exportkit import config, nodes, panels, parse, selectors, substitute, tool

import dashboards
from resilience.metrics.catalog import CATALOG, MetricType

MODELS = dashboards.build(config())
EXPRS = sorted({t["expr"] for m in MODELS.values() for p in panels(m) for t in p["targets"]})
SUFFIXES = ("_bucket", "_count", "_sum")


def family(series_name: str) -> str:
    """The catalog family of an exposed series name (histogram suffixes stripped)."""
    if series_name in CATALOG:
        return series_name
    for suffix in SUFFIXES:
        base = series_name.removesuffix(suffix)
        if base != series_name and base in CATALOG and CATALOG[base].type is MetricType.HISTOGRAM:
            return base
    raise AssertionError(f"{series_name!r} is not a catalog series")


def test_promtool_accepts_every_panel_expression(tmp_path: Path) -> None:
    rules = [{"record": f"panel:expr_{i}:check", "expr": substitute(e)} for i, e in enumerate(EXPRS)]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}), encoding="utf-8")
    done = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(EXPRS)} rules found" in done.stdout


def test_promtool_check_rejects_a_broken_expression(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    broken = {"groups": [{"name": "g", "rules": [{"record": "a:b:c", "expr": "sum by (name) (rate(x[1m])"}]}]}
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    done = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode != 0


@pytest.mark.parametrize("expr", EXPRS, ids=range(len(EXPRS)))
def test_every_metric_is_in_the_catalog_and_every_selector_has_the_edge_and_run(expr: str) -> None:
    found = selectors(expr)
    assert found
    for sel in found:
        spec = CATALOG[family(sel.name)]
        labels = {m.name: (m.op, m.value) for m in sel.matchers.matchers}
        assert labels["name"] == (pp.MatchOp.Re, "$name")
        assert labels["run"] == (pp.MatchOp.Re, "$run")
        extra = set(labels) - {"name", "run", "le"}
        assert extra <= set(spec.labels), (sel.name, extra)


@pytest.mark.parametrize("expr", EXPRS, ids=range(len(EXPRS)))
def test_counters_are_summed_and_gauges_averaged_by_edge(expr: str) -> None:
    """Each selector sits under an aggregation that keeps ``name``: sum for counters, avg for gauges."""
    tree = parse(expr)

    def check(node: object, agg: object | None) -> None:
        if isinstance(node, pp.AggregateExpr):
            agg = node
        if isinstance(node, pp.VectorSelector):
            assert agg is not None, f"{node.name} is not aggregated"
            spec = CATALOG[family(node.name)]
            op = str(agg.op)  # type: ignore[attr-defined]
            labels = list(agg.modifier.labels)  # type: ignore[attr-defined]
            assert "name" in labels and agg.modifier.type == pp.AggModifierType.By  # type: ignore[attr-defined]
            want = "avg" if spec.type is MetricType.GAUGE else "sum"
            assert op == want, (node.name, op)
            return
        for attr in ("lhs", "rhs", "expr", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None:
                check(child, agg)
        for arg in getattr(node, "args", None) or []:
            check(arg, agg)

    check(tree, None)
    assert any(isinstance(n, pp.AggregateExpr) for n in nodes(tree))


def test_the_catalog_check_catches_an_unknown_metric() -> None:
    with pytest.raises(AssertionError, match="not a catalog series"):
        family(selectors('sum by (name) (rate(resilience_requests_totl{name=~"$name"}[5m]))')[0].name)
