"""Grafana dashboards (classic JSON model, schemaVersion 42) built with grafana-foundation-sdk."""

from __future__ import annotations

import enum
import json
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # the SDK deprecates the classic model it still builds; it is our target
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.builders import common as common_b
    from grafana_foundation_sdk.builders import dashboard as dash_b
    from grafana_foundation_sdk.builders import prometheus, statetimeline, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common as common_m
    from grafana_foundation_sdk.models import dashboard as dash_m

from . import queries as q
from . import tiers as tier_row
from .config import ExportConfig
from .panels import Panel, Section, layout, sections
from .promql import Scope

__all__ = ["Form", "build", "dumps", "uid", "write"]

DATASOURCE = dash_m.DataSourceRef(type_val="prometheus", uid="${datasource}")
SCOPE = Scope.of(("name", "=~", "$name"), ("run", "=~", "$run"))
"""Every panel's selectors: the chosen edges, and the chosen run (``.*`` in production)."""


class Form(enum.Enum):
    """Production reads live series; the simulator form picks a run among simulated ones."""

    PRODUCTION = "production"
    SIMULATION = "simulation"


def uid(config: ExportConfig, form: Form = Form.PRODUCTION) -> str:
    """The dashboard's stable uid: ``rwb-<slug>``, ``-sim`` for the simulator form."""
    return f"rwb-{config.slug}" + ("-sim" if form is Form.SIMULATION else "")


def _variables(config: ExportConfig, form: Form) -> list[Any]:
    edges = list(config.edges)
    current = dash_m.VariableOption(selected=True, text=edges, value=edges)
    name = (
        dash_b.QueryVariable("name").label("Edge").description("Pipeline edge (the name label)")
        .datasource(DATASOURCE).query(f"label_values({q.REQUESTS}, name)")
        .multi(True).include_all(True).current(current).refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_m.VariableSort.ALPHABETICAL_ASC)
    )  # fmt: skip
    if form is Form.SIMULATION:
        run: Any = (
            dash_b.QueryVariable("run").label("Run").description("Simulated run (run label)")
            .datasource(DATASOURCE).query(f'label_values({q.REQUESTS}{{name=~"$name"}}, run)')
            .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dash_m.VariableSort.ALPHABETICAL_ASC)
        )  # fmt: skip
    else:
        run = (
            dash_b.ConstantVariable("run").value(".*")
            .description("Production series carry no run label: matches every series")
        )  # fmt: skip
    source = dash_b.DatasourceVariable("datasource").label("Data source").type("prometheus")
    return [source, name, run]


def _thresholds(panel: Panel) -> Any:
    steps = [dash_m.Threshold(value=None, color=panel.base_color)]
    steps += [dash_m.Threshold(value=v, color=color) for v, color in panel.thresholds]
    return dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps(steps)


def _panel(panel: Panel, grid: tuple[int, int, int, int, int]) -> Any:
    _, x, y, w, h = grid
    legend = (
        common_b.VizLegendOptions().show_legend(True)
        .display_mode(common_m.LegendDisplayMode.LIST).placement(common_m.LegendPlacement.BOTTOM)
    )  # fmt: skip
    tooltip = (
        common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.MULTI).sort(common_m.SortOrder.NONE)
    )
    b: Any = timeseries.Panel() if panel.kind == "timeseries" else statetimeline.Panel()
    b = (
        b.id(panel.id).title(panel.title).description(panel.description).unit(panel.unit)
        .datasource(DATASOURCE).grid_pos(dash_m.GridPos(h=h, w=w, x=x, y=y))
        .thresholds(_thresholds(panel)).legend(legend).tooltip(tooltip).min(0)
    )  # fmt: skip
    if panel.max is not None:
        b = b.max(panel.max)
    if panel.kind == "timeseries" and panel.thresholds:
        style = common_b.GraphThresholdsStyleConfig().mode(common_m.GraphThresholdsStyleMode.LINE)
        b = b.thresholds_style(style)
    for i, (legend_format, expr) in enumerate(panel.targets):
        target = (
            prometheus.Dataquery().ref_id(chr(ord("A") + i)).expr(expr).legend_format(legend_format)
            .datasource(DATASOURCE).range()
        )  # fmt: skip
        b = b.with_target(target)
    return b


def _dashboard(config: ExportConfig, form: Form) -> dict[str, Any]:
    rows: tuple[Section, ...] = sections(config, SCOPE) + tier_row.rows(config)
    grid = {g[0]: g for g in layout(rows)}
    suffix = " (simulation)" if form is Form.SIMULATION else ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the classic model is what we target
        d: Any = (
            dash_b.Dashboard(config.title + suffix).uid(uid(config, form))
            .description(f"Resilience metrics of {', '.join(config.edges)} with the tuned thresholds.")
            .tags(sorted({"resilience", config.slug, form.value})).timezone("browser")
            .time("now-1h", "now").refresh("30s").tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        )  # fmt: skip
        for variable in _variables(config, form):
            d = d.with_variable(variable)
        for row in rows:
            _, x, y, w, h = grid[row.id]
            d = d.with_row(dash_b.Row(row.title).id(row.id).grid_pos(dash_m.GridPos(h=h, w=w, x=x, y=y)))
            for panel in row.panels:
                d = d.with_panel(_panel(panel, grid[panel.id]))
        model = d.build()
    out: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return out


def build(config: ExportConfig) -> dict[str, dict[str, Any]]:
    """Both dashboards as JSON-ready dicts, keyed by file name (``<uid>.json``)."""
    return {f"{uid(config, form)}.json": _dashboard(config, form) for form in Form}


def dumps(model: dict[str, Any]) -> str:
    """Byte-stable JSON: sorted keys, two-space indent, a final newline."""
    return json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(config: ExportConfig, directory: Path) -> list[Path]:
    """Write every dashboard of ``config`` into ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, model in sorted(build(config).items()):
        path = directory / filename
        path.write_text(dumps(model), encoding="utf-8")
        paths.append(path)
    return paths
