"""A one-page HTML preview of dashboards, drawn with plotly from Prometheus query results.

``render(dashboards, results, title)`` gives a self-contained page (plotly.js
inlined once, no network needed) with one plot per panel: its title, its
unit on the y axis, its thresholds as horizontal lines and one trace per
result series. The plotted data is embedded as JSON
(``<script id="rwb-preview-data">``) and each trace carries its
``(uid, panel id, refId)`` in ``meta``, so what is drawn can be checked
against what Prometheus answered.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from .evaluate import Results, panels

__all__ = ["UNITS", "render"]

UNITS = {
    "reqps": "requests / s",
    "percentunit": "fraction",
    "s": "seconds",
    "none": "ratio",
    "short": "count",
}
"""Axis labels for Grafana unit ids; other units are shown as their id."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1em; }
.panel { border: 1px solid #ddd; border-radius: 4px; padding: 0.5em; }
.panel h3 { font-size: 1em; margin: 0 0 0.2em; } .panel p { font-size: 0.8em; color: #555; margin: 0; }
.plot { height: 320px; }
"""

_SCRIPT = """
(function () {
  const pages = JSON.parse(document.getElementById("rwb-preview-data").textContent);
  for (const dash of pages) {
    for (const panel of dash.panels) {
      const shapes = panel.thresholds.map(t => ({type: "line", xref: "paper", x0: 0, x1: 1,
        y0: t.value, y1: t.value, line: {color: t.color, dash: "dash", width: 1}}));
      const traces = panel.traces.map(t => ({type: "scatter", mode: "lines", name: t.name,
        x: t.x, y: t.y, meta: t.meta}));
      const layout = {margin: {l: 60, r: 10, t: 10, b: 50}, showlegend: true,
        legend: {orientation: "h", y: -0.3}, xaxis: {type: "date"},
        yaxis: {title: {text: panel.axis}, rangemode: "tozero"}, shapes: shapes,
        annotations: traces.length ? [] : [{text: "no data", xref: "paper", yref: "paper",
          x: 0.5, y: 0.5, showarrow: false}]};
      Plotly.newPlot(panel.div, traces, layout, {displaylogo: false, responsive: true, staticPlot: false});
    }
  }
})();
"""


def _json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    return json.dumps(value, sort_keys=True, allow_nan=False).replace("</", "<\\/")


def _thresholds(panel: dict[str, Any]) -> list[dict[str, Any]]:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    lines = [s for s in steps if s.get("value") is not None]
    return [{"value": s["value"], "color": s.get("color", "red")} for s in lines]


def _axis(panel: dict[str, Any]) -> str:
    unit = str(panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "") or "none")
    return f"{UNITS.get(unit, unit)} ({unit})"


def _model(dashboards: list[dict[str, Any]], results: Results) -> list[dict[str, Any]]:
    out = []
    for d, dashboard in enumerate(dashboards):
        items = []
        for panel in panels(dashboard):
            traces = []
            for target in panel.get("targets", []):
                key = (dashboard["uid"], int(panel["id"]), str(target["refId"]))
                for series in results.get(key, []):
                    traces.append({
                        "name": series.legend,
                        "x": [t * 1000.0 for t, _ in series.values],
                        "y": [v if math.isfinite(v) else None for _, v in series.values],
                        "meta": {"key": list(key), "metric": series.metric},
                    })  # fmt: skip
            items.append({
                "div": f"d{d}-p{panel['id']}",
                "id": panel["id"],
                "title": panel.get("title", ""),
                "description": panel.get("description", ""),
                "axis": _axis(panel),
                "thresholds": _thresholds(panel),
                "traces": traces,
            })  # fmt: skip
        out.append({"uid": dashboard["uid"], "title": dashboard.get("title", ""), "panels": items})
    return out


def render(dashboards: list[dict[str, Any]], results: Results, title: str) -> str:
    """One self-contained HTML page drawing every panel of ``dashboards`` from ``results``."""
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]  # plotly ships no type stubs

    model = _model(dashboards, results)
    body = []
    for dash in model:
        body.append(f"<h2>{html.escape(dash['title'])} <small>({html.escape(dash['uid'])})</small></h2>")
        body.append('<div class="grid">')
        for p in dash["panels"]:
            body.append(
                f'<div class="panel" data-panel-id="{p["id"]}"><h3 class="panel-title">'
                f"{html.escape(p['title'])}</h3><p>{html.escape(p['description'])}</p>"
                f'<div class="plot" id="{p["div"]}"></div></div>'
            )
        body.append("</div>")
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{plotly_js}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *body,
        f'<script type="application/json" id="rwb-preview-data">{_json(model)}</script>',
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
        "",
    ])  # fmt: skip
