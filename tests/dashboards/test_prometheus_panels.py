"""Every dashboard panel returns data on a real Prometheus, and the HTML preview draws exactly that data.

One Prometheus for the module, holding two data sets an hour apart: a
simulated incident (the flagship scenario, shortened) and production-shaped
series (the library's exporter scraped over real sync-driver calls on
loopback, without run labels). Every expression of both dashboards runs on
both through the HTTP API; the preview is then opened in headless Chromium.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from exportkit import selectors
from promdata import DataSet, Point, points, production, simulated

import dashboards
from dashboards import ExportConfig, LocalPrometheus, evaluate, render
from dashboards.evaluate import Results, panels
from resilience.metrics.catalog import CATALOG, MetricType

NOT_IN_THE_FLAGSHIP = {"resilience_fallbacks_total", "resilience_admission_rejections_total"}
"""Families the flagship scenario does not emit (no fallback tier, no admission control)."""


@dataclass(frozen=True)
class Evaluated:
    data: DataSet
    results: Results


@dataclass(frozen=True)
class World:
    models: list[dict[str, Any]]
    sim: Evaluated
    prod: Evaluated
    other_run: Results


def _variables(data: DataSet) -> dict[str, str]:
    assert all(c.isalnum() or c in "->→_" for c in data.edge), data.edge  # no regex metacharacters
    return {"name": data.edge, "run": data.run if data.run is not None else ".*"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sim_data = simulated()
    prod_data = production(sim_data.edge, end=sim_data.start - 3600.0)
    config = ExportConfig(
        edges=(sim_data.edge,), attempt_timeout=0.3, timeout=2.0, failure_rate_threshold=0.5,
        max_open_wait=2.4, amplification_bound=1.2, budget_floor=10.0, slo_target=0.99, slo_latency=0.5,
    )  # fmt: skip
    models = list(dashboards.build(config).values())
    with LocalPrometheus([sim_data.text, prod_data.text], tmp_path_factory.mktemp("prom")) as prom:
        evaluated = [
            Evaluated(
                d,
                evaluate(
                    models,
                    prom,
                    d.start,
                    d.end,
                    d.scrape_interval,
                    _variables(d),
                    scrape_interval=d.scrape_interval,
                ),
            )
            for d in (sim_data, prod_data)
        ]
        variables = {**_variables(sim_data), "run": "another-run"}
        other_run = evaluate(models, prom, sim_data.start, sim_data.end, 5.0, variables, scrape_interval=5.0)
    yield World(models, *evaluated, other_run)


def _exprs(models: list[dict[str, Any]]) -> dict[tuple[str, int, str], str]:
    return {
        (m["uid"], p["id"], t["refId"]): t["expr"] for m in models for p in panels(m) for t in p["targets"]
    }


def _families(expr: str) -> set[str]:
    out = set()
    for sel in selectors(expr):
        name = sel.name
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix) and name.removesuffix(suffix) in CATALOG:
                name = name.removesuffix(suffix)
        out.add(name)
    return out


def test_no_panel_pads_its_result(world: World) -> None:
    exprs = _exprs(world.models)
    assert len(exprs) >= 2 * 14
    for expr in exprs.values():
        assert "or vector(" not in expr.replace(" ", "") and "absent(" not in expr, expr


@pytest.mark.parametrize("which", ["sim", "prod"])
def test_every_panel_returns_finite_data_with_the_edge(world: World, which: str) -> None:
    ev: Evaluated = getattr(world, which)
    present = {
        p.name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        for p in points(ev.data.text)
    }
    exprs = _exprs(world.models)
    assert set(ev.results) == set(exprs)
    empty = []
    for key, expr in sorted(exprs.items()):
        series = ev.results[key]
        missing = _families(expr) - present
        if which == "sim" and missing:
            assert missing <= NOT_IN_THE_FLAGSHIP, (key, missing)
            assert series == [], (key, series)  # nothing is invented where nothing was emitted
            empty.append(key)
            continue
        assert series, f"{which}: {key} returned no data: {expr}"
        assert any(s.metric.get("name") == ev.data.edge for s in series), (key, [s.metric for s in series])
        values = [v for s in series for _, v in s.values]
        assert values and all(math.isfinite(v) for v in values), (key, values)
        for s in series:
            assert all(ev.data.start <= t <= ev.data.end for t, _ in s.values)
    # Only the fallback and admission panels (one per dashboard) have no simulated data.
    assert len(empty) == (4 if which == "sim" else 0)


def test_the_run_variable_selects_the_run(world: World) -> None:
    """Negative control for the data checks: a run that is not loaded gives no series at all."""
    assert world.sim.data.run is not None  # simulated series carry a run label
    assert set(world.other_run) == set(world.sim.results)
    assert all(series == [] for series in world.other_run.values())


def _active(pts: list[Point], family: str, labels: dict[str, str], lo: float, hi: float) -> bool:
    """The raw data shows the feature in [lo, hi]: a gauge above zero, or a counter series that grew.

    A counter grows when one of its series rises between two of its samples inside [lo - 1, hi];
    a series first seen with a value already above zero shows no increase to ``rate`` (Prometheus
    does not assume a start from zero), so it does not count here either.
    """
    chosen = [p for p in pts if p.name == family and all(p.labels.get(k) == v for k, v in labels.items())]
    if CATALOG[family].type is MetricType.GAUGE:
        return any(p.value > 0 for p in chosen if lo <= p.time <= hi)
    by_series: dict[tuple[tuple[str, str], ...], list[Point]] = {}
    for p in sorted(chosen, key=lambda p: p.time):
        by_series.setdefault(tuple(sorted(p.labels.items())), []).append(p)
    return any(
        b.value > a.value and lo - 1 <= a.time and b.time <= hi
        for series in by_series.values()
        for a, b in itertools.pairwise(series)
    )


# Panel -> the raw series that show its feature is active, and the value the panel must exceed then.
# (Retry amplification is left out: it is never zero, and with a breaker refusing requests that send no
# attempt it can even fall below 1 during an incident.)
FEATURES: dict[str, tuple[str, dict[str, str], float]] = {
    "breaker_open": ("resilience_breaker_state", {"state": "open"}, 0.0),
    "breaker_failure_rate": ("resilience_breaker_failure_rate", {}, 0.0),
    "not_permitted": ("resilience_breaker_calls_total", {"kind": "not_permitted"}, 0.0),
    "timeouts": ("resilience_timeouts_total", {}, 0.0),
    "fallbacks": ("resilience_fallbacks_total", {}, 0.0),
    "admission": ("resilience_admission_rejections_total", {}, 0.0),
    "slo_burn": ("resilience_requests_total", {"result": "failure"}, 0.0),
}


@pytest.mark.parametrize("which", ["sim", "prod"])
def test_panels_of_active_features_are_non_zero_in_the_fault_window(world: World, which: str) -> None:
    ev: Evaluated = getattr(world, which)
    pts = points(ev.data.text)
    start, end = ev.data.fault
    reach = end + 4 * ev.data.scrape_interval + ev.data.scrape_interval  # the rate window, one step
    active = []
    for key, (family, labels, floor) in FEATURES.items():
        if not _active(pts, family, labels, start, end + ev.data.scrape_interval):
            continue
        active.append(key)
        panel_id = dashboards.PANEL_IDS[key]
        for model in world.models:
            series = ev.results[(model["uid"], panel_id, "A")]
            peak = max(v for s in series for t, v in s.values if start <= t <= reach)
            assert peak > floor, (which, key, peak)
    # Both incidents trip breakers, time out and fail requests (a stated property of both data sets;
    # a simulated counter starts from a zero sample, so rates see its first burst).
    assert {"breaker_open", "breaker_failure_rate", "not_permitted", "slo_burn", "timeouts"} <= set(
        active
    ), active
    if which == "prod":
        assert {"timeouts", "fallbacks", "admission"} <= set(active), active


def test_the_fault_window_check_sees_a_quiet_window(world: World) -> None:
    """Negative control: before the fault nothing trips, so the activity test is not vacuous."""
    pts = points(world.sim.data.text)
    start = world.sim.data.start
    assert not _active(pts, "resilience_breaker_calls_total", {"kind": "not_permitted"}, start, start + 10)
    assert not _active(pts, "resilience_breaker_state", {"state": "open"}, start, start + 10)


# -- the preview in a real browser ----------------------------------------------


def _page_plots(html_path: Path) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html_path.as_uri())
            page.wait_for_function("document.querySelectorAll('.plot .main-svg').length > 0")
            titles = page.eval_on_selector_all(".panel-title", "els => els.map(e => e.textContent)")
            plots = page.evaluate(
                """() => Array.from(document.querySelectorAll('.plot')).map(d => ({
                    id: d.id, drawn: d.querySelectorAll('.scatterlayer .trace path.js-line').length,
                    data: (d.data || []).map(t => ({
                        name: t.name, meta: t.meta, x: Array.from(t.x), y: Array.from(t.y)}))
                }))"""
            )
        finally:
            browser.close()
    return titles, plots, requests


def test_the_preview_draws_every_panel_with_the_prometheus_values(world: World, tmp_path: Path) -> None:
    path = tmp_path / "preview.html"
    path.write_text(render(world.models, world.prod.results, "Resilience preview"), encoding="utf-8")
    titles, plots, requests = _page_plots(path)
    assert all(r.startswith("file://") for r in requests), requests  # self-contained: nothing fetched
    want = [p["title"] for m in world.models for p in panels(m)]
    assert titles == want
    assert len(plots) == len(want)
    compared = 0
    for plot in plots:
        assert plot["data"], f"{plot['id']} has no trace"
        assert plot["drawn"] >= 1, f"{plot['id']} drew no line"
        for trace in plot["data"]:
            uid, panel_id, ref = trace["meta"]["key"]
            (series,) = [
                s for s in world.prod.results[(uid, panel_id, ref)] if s.metric == trace["meta"]["metric"]
            ]
            assert trace["name"] == series.legend
            assert trace["x"] == [t * 1000.0 for t, _ in series.values]
            assert trace["y"] == [v for _, v in series.values]
            compared += len(series.values)
    total = sum(len(s.values) for ss in world.prod.results.values() for s in ss)
    assert compared == total > 0


def test_the_preview_marks_thresholds_units_and_empty_panels(world: World) -> None:
    page = render(world.models, world.sim.results, "Simulated incident")
    assert page.count("<script>") == 2  # plotly.js once, the drawing code once
    assert "cdn.plot.ly" not in page.split('id="rwb-preview-data"')[1]
    import json

    data = json.loads(page.split('id="rwb-preview-data">')[1].split("</script>")[0])
    by_title = {p["title"]: p for d in data for p in d["panels"]}
    latency = by_title["Request latency p50 / p99"]
    assert [t["value"] for t in latency["thresholds"]] == [2.0]  # the overall timeout
    assert latency["axis"] == "seconds (s)"
    assert by_title["Fallback tier usage"]["traces"] == []  # the flagship has no fallback: drawn as "no data"


def test_the_fallback_panel_returns_simulated_data_from_the_fallback_incident(tmp_path: Path) -> None:
    """The flagship has no fallback tier; the fallback incident has one: its panel shows it, non-zero
    in the fault window and zero before it (the same expression as every other panel, no padding)."""
    import dataclasses

    import sim

    sc = sim.load_scenario("scenarios/incidents/fallback.toml")
    (fault,) = sc.faults
    short = dataclasses.replace(fault, duration=30.0)
    sc = dataclasses.replace(sc, duration=fault.start + 40.0, faults=(short,))
    text = sim.run(sc, 1).series
    pts = [p for p in points(text) if p.name == "resilience_fallbacks_total"]
    (edge,) = {p.labels["name"] for p in pts}
    (run,) = {p.labels["run"] for p in pts}
    config = ExportConfig(edges=(edge,), attempt_timeout=0.2, timeout=1.0, slo_latency=1.0)
    models = list(dashboards.build(config).values())
    start, epoch = float(sc.epoch), float(sc.epoch)
    with LocalPrometheus([text], tmp_path) as prom:
        results = evaluate(models, prom, start, start + sc.duration, 1.0, {"name": edge, "run": run},
                           scrape_interval=1.0)  # fmt: skip
    for model in models:
        series = results[(model["uid"], dashboards.PANEL_IDS["fallbacks"], "A")]
        assert series and all(s.metric.get("name") == edge for s in series), series
        values = [(t - epoch, v) for s in series for t, v in s.values]
        assert all(math.isfinite(v) for _, v in values)
        # answers per second: 100 requests/s, 5 % of them 503s in the fault, 0.4 % before it
        assert max(v for t, v in values if fault.start + 5 <= t <= fault.start + 30) > 2.5
        assert max(v for t, v in values if sc.warmup <= t <= fault.start - 10) < 1.5
