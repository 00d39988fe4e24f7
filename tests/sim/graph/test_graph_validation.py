"""Call graphs are checked at load: every problem reported at once in the file form."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[3]

BROKEN = """
name = "broken"
duration = 10.0
warmup = 1.0
slo_latency = 1.0

[clients.web]
target = "gw"
routes = {query = 1.0, nope = 2.0}

[services.gw]
[services.gw.routes.query]
steps = [{calls = ["gw_db", "zz"], mode = "first_k", k = 3}, {calls = ["db_gw"]}]

[services.db]
[services.db.routes.default]
steps = [{calls = ["db_gw"]}, {calls = ["db_x"], mode = "any", k = 1}]

[edges.gw_db]
caller = "gw"
target = "db"
route = "missing"

[edges.db_gw]
caller = "db"
target = "gw"
route = "query"

[edges.db_x]
caller = "db"
target = "nowhere"

[edges.orphan]
caller = "gw"
target = "db"
link = "nolink"
"""

EXPECTED = [
    "x.toml: services.gw.routes.query.steps[0].calls[1]='zz': must name an edge"
    " (known: db_gw, db_x, gw_db, orphan)",
    "x.toml: services.gw.routes.query.steps[0].k=3: must be in 1..2 (the number of calls) for mode first_k",
    "x.toml: services.gw.routes.query.steps[1].calls[0]='db_gw': must be an edge whose caller is gw",
    "x.toml: services.db.routes.default.steps[1].k=1: must be left out unless mode is first_k",
    "x.toml: edges.gw_db.route='missing': must name a route of db (known: default)",
    "x.toml: edges.db_x.target='nowhere': must name a service (known: db, gw)",
    "x.toml: edges.orphan.caller='gw': must be a service whose routes call this edge",
    "x.toml: edges.orphan.link='nolink': must name a link (known: none)",
    "x.toml: clients.web.routes.nope=2.0: must name a route of gw (known: query)",
    "x.toml: edges.gw_db.target='db': must not close a cycle (db -> gw -> db)",
    "x.toml: edges.orphan.target='db': must not close a cycle (db -> gw -> db)",
]


def messages(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    return [e.line.replace(str(path), "x.toml") for e in err.value.errors]


def test_every_graph_problem_is_reported_at_once(tmp_path: Path) -> None:
    assert messages(BROKEN, tmp_path) == EXPECTED


def test_a_valid_graph_loads(tmp_path: Path) -> None:
    """Negative control: the same tables with the problems removed load."""
    good = """
name = "good"
duration = 10.0
warmup = 1.0
slo_latency = 1.0
[clients.web]
target = "gw"
routes = {query = 1.0}
[services.gw]
replicas = 2
[services.gw.routes.query]
steps = [{calls = ["gw_db", "gw_db2"], mode = "first_k", k = 2}]
[services.db]
[edges.gw_db]
caller = "gw"
target = "db"
[edges.gw_db2]
caller = "gw"
target = "db"
[[faults]]
type = "outage"
target = "gw#1"
start = 2.0
duration = 1.0
"""
    path = tmp_path / "good.toml"
    path.write_text(good, encoding="utf-8")
    sc = load_scenario(path)
    assert sc.multi_tier and sc.services["gw"].replicas == 2
    assert sc.services["gw"].routes["query"].steps[0].needed() == 2


def test_a_fault_may_name_a_replica_that_exists_only(tmp_path: Path) -> None:
    text = (
        BROKEN.split("[clients.web]")[0]
        + """
[clients.web]
target = "db"
[services.db]
replicas = 2
[[faults]]
type = "outage"
target = "db#2"
start = 2.0
duration = 1.0
"""
    )
    (line,) = messages(text, tmp_path)
    assert line == "x.toml: faults[0].target='db#2': must name a service"


# multi-tier by design: replicas behind a balancer; a cache tier in front of a database
MULTI_TIER_ELSEWHERE = {"lb_sinkholing.toml", "cache_stampede.toml", "cache_flush.toml"}


def test_shipped_single_tier_scenarios_stay_single_tier() -> None:
    files = [
        p
        for p in sorted((ROOT / "scenarios").rglob("*.toml"))
        if p.parent.name not in ("graph", "chapter5", "grids", "spaces")
        and p.name not in MULTI_TIER_ELSEWHERE
    ]
    assert len(files) > 20
    for p in files:
        assert not load_scenario(p).multi_tier, p
    for name in MULTI_TIER_ELSEWHERE:
        (path,) = (ROOT / "scenarios").rglob(name)
        assert load_scenario(path).multi_tier, path


def test_shipped_graph_examples_load() -> None:
    files = sorted((ROOT / "scenarios" / "graph").glob("*.toml"))
    assert files
    for p in files:
        assert load_scenario(p).multi_tier, p
