"""RunResult in a notebook: ``_repr_html_`` (summary table + small SVG) and ``plot()`` (a plotly figure)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim import RunResult, load_scenario, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resilient() -> RunResult:
    sc = load_scenario(ROOT / "scenarios" / "retry_storm_resilient.toml").with_(duration=45.0)
    return run(sc, 2)


@pytest.fixture(scope="module")
def plain() -> RunResult:
    sc = load_scenario(ROOT / "scenarios" / "truth" / "mm1.toml")
    return run(sc.with_(duration=600.0, warmup=50.0, bin_width=10.0, name="<mm1 & co>"), 4)


def test_repr_html_is_a_summary_table_and_a_small_svg(resilient: RunResult) -> None:
    html = resilient._repr_html_()
    s = resilient.summary
    cells = dict(re.findall(r"<tr><th[^>]*>([^<]*)</th><td[^>]*>([^<]*)</td></tr>", html))
    assert cells["scenario"] == "retry-storm-resilient" and cells["seed"] == "2"
    assert cells["requests"] == str(s["requests"]) and cells["attempts"] == str(s["attempts"])
    assert float(cells["success ratio"]) == pytest.approx(s["success_ratio"], rel=1e-3)
    assert cells["breakers opened"] == str(sum(b["opened"] for b in s["breakers"].values()))
    assert cells["failures"] == str(sum(s["failures"].values()))
    assert "recovery (s)" in cells
    assert html.count("<svg") == 1 and "simulated time (s)" in html
    assert "<script" not in html and len(html) < 20_000  # no plotly.js in the cell
    lines = re.findall(r'<polyline[^>]*points="([^"]*)"', html)
    assert len(lines) == 2  # offered and goodput
    assert all(len(pts.split()) == 45 - 1 for pts in lines)  # whole seconds whose requests could finish


def test_repr_html_escapes_names_and_leaves_out_absent_parts(plain: RunResult) -> None:
    html = plain._repr_html_()
    assert "&lt;mm1 &amp; co&gt;" in html and "<mm1" not in html
    assert "breakers opened" not in html and "recovery" not in html  # no breakers, no faults
    assert "<RunResult '<mm1 & co>' seed=4" in repr(plain)


def test_plot_shows_offered_goodput_success_and_breakers(resilient: RunResult) -> None:
    fig = resilient.plot()
    assert fig.layout.title.text == "retry-storm-resilient (seed 2)"
    by_name = {t.name: t for t in fig.data}
    n = 45 - 1
    assert list(by_name["offered"].y) == resilient.offered_per_second[:n]
    assert list(by_name["goodput"].y) == resilient.goodput_per_second[:n]
    assert list(by_name["offered"].x) == [i + 0.5 for i in range(n)]
    ratio = np.asarray(by_name["success ratio"].y, dtype=float)
    x = np.asarray(by_name["success ratio"].x, dtype=float)
    assert np.nanmin(ratio[(x > 31) & (x < 35)]) < 0.5 < np.nanmin(ratio[(x > 21) & (x < 29)])
    opened = [t for t in fig.data if t.name.startswith("open ")]
    assert len(opened) == 1
    assert max(opened[0].y) > 0.5 and opened[0].y[int(np.argmin(np.abs(opened[0].x - 25.5)))] == 0
    axes = [fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text, fig.layout.yaxis3.title.text]
    assert axes == ["requests/s", "success ratio", "open fraction"]
    assert fig.layout.xaxis3.title.text == "simulated time (s)"
    assert [(s.x0, s.x1) for s in fig.layout.shapes if s.type == "rect"] == [(30.0, 35.0)] * 3  # each row


def test_plot_without_breakers_has_two_rows(plain: RunResult) -> None:
    fig = plain.plot()
    assert fig.layout.title.text == "<mm1 & co> (seed 4)"
    assert not any(t.name.startswith("open ") for t in fig.data)
    assert (
        "yaxis3" not in fig.layout.to_plotly_json() and fig.layout.xaxis2.title.text == "simulated time (s)"
    )
    ratio = np.asarray(next(t for t in fig.data if t.name == "success ratio").y, dtype=float)
    assert np.nanmin(ratio) == 1.0  # an M/M/1 queue without timeouts never fails a request
