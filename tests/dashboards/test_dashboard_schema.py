"""Generated dashboards against Grafana's published JSON Schemas, plus what the schemas miss."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from exportkit import SCHEMAS, config, panels

import dashboards

PANEL_SCHEMAS = {"timeseries": "timeseries", "state-timeline": "statetimeline"}
MODELS = dashboards.build(config())


def schema(file: str, definition: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / f"{file}.jsonschema.json").read_text(encoding="utf-8"))
    if definition is not None:
        doc = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    return doc


def errors(instance: Any, doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(doc)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.mark.parametrize("filename", sorted(MODELS))
def test_dashboard_matches_the_dashboard_schema(filename: str) -> None:
    model = MODELS[filename]
    assert errors(model, schema("dashboard")) == []
    assert model["schemaVersion"] == 42


@pytest.mark.parametrize("filename", sorted(MODELS))
def test_panel_options_targets_and_units_match_their_schemas(filename: str) -> None:
    units = {d["const"] for d in schema("units")["definitions"].values() if "const" in d}
    query = schema("prometheus")
    for panel in panels(MODELS[filename]):
        kind = PANEL_SCHEMAS[panel["type"]]
        assert errors(panel["options"], schema(kind, "Options")) == [], panel["title"]
        assert errors(panel["fieldConfig"]["defaults"]["custom"], schema(kind, "FieldConfig")) == []
        for target in panel["targets"]:
            assert errors(target, query) == [], panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"] in units, panel["title"]


def test_the_schema_check_rejects_a_broken_dashboard() -> None:
    broken = json.loads(json.dumps(MODELS["rwb-resilience.json"]))
    broken["panels"][1]["gridPos"]["w"] = "wide"
    del broken["templating"]
    assert len(errors(broken, schema("dashboard"))) == 2


@pytest.mark.parametrize("filename", sorted(MODELS))
def test_layout_ids_descriptions_units_and_targets(filename: str) -> None:
    model = MODELS[filename]
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    cells: dict[tuple[int, int], int] = {}
    for p in model["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["h"] > 0 and g["x"] + g["w"] <= 24, p["id"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panel {p['id']} overlaps panel {cells[x, y]}"
                cells[x, y] = p["id"]
    for p in panels(model):
        assert p["description"].strip() and p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
        for t in p["targets"]:
            assert "vector(" not in t["expr"] and "absent(" not in t["expr"]
            ranges = re.findall(r"\[([^\]]+)\]", t["expr"])
            assert all(r == "$__rate_interval" for r in ranges), t["expr"]


def test_the_panels_the_issue_asks_for_are_there() -> None:
    titles = {p["title"] for p in panels(MODELS["rwb-resilience.json"])}
    for words in ("request and attempt rate", "retry amplification", "success ratio", "goodput", "p99",
                  "breaker state", "failure rate", "not-permitted", "budget tokens", "timeouts by source",
                  "fallback tier", "admission rejections", "burn rate"):  # fmt: skip
        assert any(words in t.lower() for t in titles), words


def test_variables_datasource_edge_and_run() -> None:
    for filename, model in MODELS.items():
        variables = {v["name"]: v for v in model["templating"]["list"]}
        assert set(variables) == {"datasource", "name", "run"}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["name"]["current"]["value"] == ["web->api"]
        hidden = variables["run"].get("hide") == 2
        assert hidden == (filename == "rwb-resilience.json")
