"""The Tiers row: emitted by the export of a multi-tier scenario (only then), built from the catalog,
valid against Grafana's schemas, and every panel returns data from a real Prometheus holding a small
multi-tier run (``scenarios/graph/three_tiers.toml`` under load)."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser as pp
import pytest
from exportkit import SCHEMAS, config, selectors

import dashboards
from dashboards import ExportConfig, LocalPrometheus, evaluate
from dashboards.evaluate import Results, panels
from dashboards.tiers import TIER_PANEL_IDS, TIER_ROW_ID, TIER_ROW_TITLE
from resilience._config import ConfigError
from resilience.metrics.catalog import CATALOG
from sim import Scenario, scenario_from_dict
from sim.export import Export, simulate, write

THREE_TIERS = Path(__file__).parents[2] / "scenarios" / "graph" / "three_tiers.toml"
TIERS = ("a", "b", "c")


def scenario() -> Scenario:
    """three_tiers.toml under Poisson load: a per-IP rate limit at a, a bounded queue at b, errors
    at c, attempt timeouts on b->c and a fallback on a->b."""
    data: dict[str, Any] = tomllib.loads(THREE_TIERS.read_text(encoding="utf-8"))
    data.update(duration=20.0, scrape_interval=1.0)
    web = data["clients"]["web"]
    web.update(workload={"type": "poisson", "rate": 40.0}, ips=4)
    web["retry"]["attempt_timeout"] = 1.0
    data["services"]["a"]["gate"] = {"rate_limit": {"rate": 6.0, "burst": 6.0}}
    data["services"]["b"].update(workers=2, queue=2, service_time={"type": "exponential", "mean": 0.03})
    data["services"]["c"].update(
        workers=4,
        service_time={"type": "exponential", "mean": 0.01},
        errors=[{"probability": 0.3, "status": 503}],
    )
    data["edges"]["a_b"]["fallback"] = "cached_page"
    data["edges"]["b_c"]["retry"] = {"max_attempts": 3, "attempt_timeout": 0.03}
    return scenario_from_dict(data, source=str(THREE_TIERS))


@dataclass(frozen=True)
class World:
    export: Export
    results: Results
    other_run: Results


def _tier_models(export: Export) -> list[dict[str, Any]]:
    """The simulation dashboard with only the Tiers row's panels."""
    sim = next(d for d in export.dashboards if d["uid"].endswith("-sim"))
    keep = set(TIER_PANEL_IDS.values())
    return [{**sim, "panels": [p for p in sim["panels"] if p["id"] in keep]}]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sc = scenario()
    runs = simulate(sc, seed=3, parallel=False)
    export = write(runs, tmp_path_factory.mktemp("export"), run_promtool=False)
    models = _tier_models(export)
    start, end, step = float(sc.epoch), float(sc.epoch + sc.duration), sc.scrape_interval
    with LocalPrometheus([runs.incident, runs.baseline], tmp_path_factory.mktemp("prom")) as prom:
        variables = {"name": ".*", "run": runs.incident_label}
        results = evaluate(models, prom, start, end, step, variables, scrape_interval=step)
        variables = {**variables, "run": "another-run"}
        other = evaluate(models, prom, start, end, step, variables, scrape_interval=step)
    yield World(export, results, other)


def _row(model: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Tiers row heading and the panels laid out under it (up to the next row)."""
    top = model["panels"]
    i = next(k for k, p in enumerate(top) if p["type"] == "row" and p["title"] == TIER_ROW_TITLE)
    under = []
    for p in top[i + 1 :]:
        if p["type"] == "row":
            break
        under.append(p)
    return top[i], under


def test_the_export_of_a_multi_tier_scenario_has_the_tiers_row(world: World) -> None:
    assert world.export.config.tiers == TIERS
    files = [p for p in world.export.files if p.suffix == ".json"]
    assert len(files) == 2
    for path in files:
        model = json.loads(path.read_text(encoding="utf-8"))
        row, under = _row(model)
        assert row["id"] == TIER_ROW_ID
        assert [p["id"] for p in under] == sorted(TIER_PANEL_IDS.values())
        ids = [p["id"] for p in panels(model)] + [p["id"] for p in model["panels"] if p["type"] == "row"]
        assert len(ids) == len(set(ids))  # no clash with the edge panels
        for p in under:
            for t in p["targets"]:
                assert 'tier=~"a|b|c"' in t["expr"] and 'run=~"$run"' in t["expr"], t["expr"]


def test_a_single_tier_export_has_no_tiers_row(tmp_path: Path) -> None:
    single = scenario_from_dict(
        {
            "name": "single",
            "warmup": 0.0,
            "slo_latency": 0.5,
            "duration": 10.0,
            "clients": {"web": {"target": "api", "workload": {"type": "poisson", "rate": 20.0},
                                "retry": {"max_attempts": 2, "attempt_timeout": 0.5}}},
            "services": {"api": {"workers": 4, "service_time": {"type": "constant", "value": 0.01}}},
        },
        source="<test>",
    )  # fmt: skip
    assert not single.multi_tier
    export = write(simulate(single, parallel=False), tmp_path, run_promtool=False)
    assert export.config.tiers == ()
    for model in export.dashboards:
        assert all(p["title"] != TIER_ROW_TITLE for p in model["panels"])
        assert "resilience_tier_" not in json.dumps(model)


def test_tiers_add_the_row_and_change_nothing_else() -> None:
    plain = dashboards.build(config())
    with_tiers = dashboards.build(config(tiers=("gateway", "db")))
    for name, model in plain.items():
        extra = [p for p in with_tiers[name]["panels"] if p not in model["panels"]]
        assert len(extra) == 1 + len(TIER_PANEL_IDS)  # the row and its panels
        assert [p for p in with_tiers[name]["panels"] if p not in extra] == model["panels"]


def test_every_tier_panel_returns_finite_data_on_a_real_prometheus(world: World) -> None:
    assert {k[1] for k in world.results} == set(TIER_PANEL_IDS.values())
    legends: dict[int, set[str]] = {}
    for (_, panel, _), series in world.results.items():
        assert series, panel
        for s in series:
            assert s.values and all(math.isfinite(v) for _, v in s.values), (panel, s.legend)
        legends[panel] = {s.legend for s in series}
    ids = TIER_PANEL_IDS
    assert legends[ids["tier_offered"]] == set(TIERS)
    assert legends[ids["tier_responses"]] >= {"a success", "a error", "c error"}
    assert legends[ids["tier_utilisation"]] == {"b", "c"}  # a has unlimited workers: no workers series
    assert legends[ids["tier_queue"]] == set(TIERS)
    assert legends[ids["tier_rejections"]] >= {"a rate_limited", "b queue_full"}
    assert "b gateway attempt" in legends[ids["tier_timeouts"]]
    assert legends[ids["tier_fallbacks"]] == {"a cached_page"}
    assert legends[ids["tier_useful_work"]] == set(TIERS)


def test_ratios_stay_within_their_bounds(world: World) -> None:
    for key in ("tier_utilisation", "tier_useful_work"):
        (series,) = [v for k, v in world.results.items() if k[1] == TIER_PANEL_IDS[key]]
        values = [v for s in series for _, v in s.values]
        assert values and all(0 <= v <= 1 for v in values), key
        assert max(values) > 0, key


def test_tier_panels_follow_the_run_variable(world: World) -> None:
    assert set(world.other_run) == set(world.results)
    assert all(series == [] for series in world.other_run.values())


def test_tier_queries_name_catalog_families_with_their_labels(world: World) -> None:
    exprs = [t["expr"] for m in _tier_models(world.export) for p in panels(m) for t in p["targets"]]
    assert len(exprs) == len(TIER_PANEL_IDS)
    for expr in exprs:
        pp.parse(expr.replace("$__rate_interval", "1m"))
        for sel in selectors(expr):
            spec = CATALOG[sel.name]
            assert spec.name.startswith("resilience_tier_")
            labels = {m.name: (m.op, m.value) for m in sel.matchers.matchers}
            assert labels["tier"] == (pp.MatchOp.Re, "a|b|c")
            assert labels["run"] == (pp.MatchOp.Re, "$run")
            assert set(labels) - {"run"} <= set(spec.labels), sel.name


def _schema(file: str, definition: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / f"{file}.jsonschema.json").read_text(encoding="utf-8"))
    if definition is not None:
        doc = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    return doc


def test_dashboards_with_the_tiers_row_match_grafanas_schemas(world: World) -> None:
    units = {d["const"] for d in _schema("units")["definitions"].values() if "const" in d}
    for model in world.export.dashboards:
        assert list(jsonschema.Draft7Validator(_schema("dashboard")).iter_errors(model)) == []
        _, under = _row(model)
        for panel in under:
            options = jsonschema.Draft7Validator(_schema("timeseries", "Options"))
            assert list(options.iter_errors(panel["options"])) == [], panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"] in units, panel["title"]


@pytest.mark.parametrize(
    ("tiers", "rule"),
    [(("a", "a"), "must not repeat a name"), (("a", ""), "must be non-empty names of printable characters")],
)
def test_tiers_are_validated(tiers: tuple[str, ...], rule: str) -> None:
    with pytest.raises(ConfigError, match=rf"ExportConfig\.tiers=.*: {rule}"):
        ExportConfig(edges=("web->a",), timeout=1.0, tiers=tiers)
