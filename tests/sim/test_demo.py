"""The flagship demo, shortened: naive retries never recover, the resilient stack does; its HTML report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.demo import html_report, parameter_rows, report_figure, run_demo, table
from sim.observe.result import RunResult


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[RunResult], Path]:
    results, report = run_demo(tmp_path_factory.mktemp("demo"), seed=1, duration=55.0, progress=False)
    assert report is not None
    return results, report


def test_demo_naive_never_recovers_resilient_does(demo: tuple[list[RunResult], Path]) -> None:
    results, report = demo
    naive, resilient = (r.summary for r in results)
    assert naive["recovery_seconds"] is None
    assert resilient["recovery_seconds"] is not None and resilient["recovery_seconds"] <= 5.0
    assert naive["amplification"] > 3 * resilient["amplification"]
    assert resilient["goodput_ratio"] > 0.8 > 0.3 > naive["goodput_ratio"]
    assert len(resilient["breakers"]) == 1 and next(iter(resilient["breakers"].values()))["opened"] > 0
    assert not naive["breakers"]
    assert report.exists()
    text = table(results)
    assert "recovery (s)" in text and "never" in text


def test_report_names_scenarios_seed_and_parameters(demo: tuple[list[RunResult], Path]) -> None:
    results, report = demo
    html = report.read_text(encoding="utf-8")
    title = re.search(r"<title>([^<]*)</title>", html)
    assert title is not None
    assert title.group(1) == "Retry storm: retry-storm-naive, retry-storm-resilient, seed 1"
    assert "seed <b>1</b>" in html
    # the parameter table: every differing setting in bold, with each scenario's value
    rows = {k: (values, differ) for k, values, differ in parameter_rows([r.scenario for r in results])}
    assert rows["clients.web.retry.max_attempts"] == ([5, 3], True)
    assert rows["clients.web.breaker.minimum_calls"] == ([None, 10], True)
    assert rows["duration"] == ([55.0, 55.0], False)
    assert (
        "<tr class=diff><th><code>clients.web.retry.max_attempts</code></th><td><code>5</code></td>" in html
    )
    assert (
        "<tr><th><code>duration</code></th><td><code>55.0</code></td><td><code>55.0</code></td></tr>" in html
    )
    assert (
        "<th><code>clients.web.breaker.minimum_calls</code></th><td>unset</td><td><code>10</code></td>"
        in html
    )
    # the chart: a title naming the scenarios and seed, labelled axes
    fig = report_figure(results)
    axes = [fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text, fig.layout.yaxis3.title.text]
    assert axes == ["requests/s", "attempts/s", "requests queued"]
    assert fig.layout.xaxis3.title.text == "simulated time (s)"
    title = fig.layout.title.text
    assert (
        title == "Retry storm under a short overload spike: retry-storm-naive, retry-storm-resilient (seed 1)"
    )
    assert f'"text":"{title}"' in html


def test_report_embeds_plotly_inline_or_loads_it_from_the_cdn(demo: tuple[list[RunResult], Path]) -> None:
    results, inline = demo
    cdn = html_report(results, inline.with_name("cdn.html"), plotly="cdn")
    small, big = cdn.read_text(encoding="utf-8"), inline.read_text(encoding="utf-8")
    assert re.search(r'<script [^>]*src="https://cdn\.plot\.ly/plotly-[^"]+\.min\.js"', small)
    assert 'src="https://cdn.plot.ly/plotly' not in big
    assert "plotly.js v" in big  # the library itself, so the file opens offline
    assert len(big) > 1_000_000 > 100_000 > len(small)
    with pytest.raises(ValueError, match=r"plotly='svg': must be one of inline, cdn"):
        html_report(results, inline.with_name("x.html"), plotly="svg")


def test_rwb_demo_refuses_an_unknown_plotly_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--plotly", "svg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --plotly: invalid choice: 'svg'")
    assert not any(tmp_path.iterdir())
