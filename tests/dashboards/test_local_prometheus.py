"""LocalPrometheus: a clear error without the binaries, exact answers, no process or directory left behind."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from dashboards import LocalPrometheus, PrometheusError, PrometheusMissing
from dashboards.evaluate import evaluate, legend, substitute

T0 = 1_700_000_000  # 2023-11-14: older than Prometheus's default 15-day retention
SERIES = "\n".join([
    "# TYPE demo_requests counter",
    "# HELP demo_requests Requests.",
    *(f'demo_requests_total{{name="a->b"}} {10 * i} {T0 + 15 * i}' for i in range(9)),
    "# TYPE demo_level gauge",
    "# HELP demo_level Level.",
    *(f'demo_level{{name="a->b"}} {i % 3} {T0 + 15 * i}' for i in range(9)),
    "# EOF",
    "",
])  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_missing_binaries_name_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    want = r"promtool not found on PATH: .*make system-tools.*apt-get install prometheus"
    with pytest.raises(PrometheusMissing, match=want), LocalPrometheus([SERIES], tmp_path / "work"):
        pass
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def _check_evaluate(prom: LocalPrometheus) -> None:
    """``evaluate`` substitutes variables (``$__rate_interval`` by Grafana's rule) and fills legends."""
    expr = 'sum by (name) (rate(demo_requests_total{name=~"$name"}[$__rate_interval]))'
    target = {"refId": "A", "expr": expr, "legendFormat": "{{name}} requests"}
    model = {
        "uid": "u",
        "panels": [{"id": 3, "type": "timeseries", "gridPos": {"x": 0, "y": 0}, "targets": [target]}],
    }
    results = evaluate([model], prom, T0 + 60, T0 + 120, 30, {"name": "a->b"}, scrape_interval=15)
    (series,) = results[("u", 3, "A")]
    assert series.legend == "a->b requests" and series.metric == {"name": "a->b"}
    assert [v for _, v in series.values] == pytest.approx([2 / 3] * 3)


def test_answers_queries_on_old_backfilled_data_and_cleans_up_even_on_error(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with (
        pytest.raises(RuntimeError, match="boom"),
        LocalPrometheus([SERIES, SERIES.replace("a->b", "c->d")], work) as prom,
    ):
        assert prom.process is not None and prom.url.startswith("http://127.0.0.1:")
        pid = prom.process.pid
        assert _alive(pid)  # control: the process the check below looks for does exist while running
        with urllib.request.urlopen(prom.url + "/-/ready", timeout=5) as r:
            assert r.status == 200
        # The counter rises 10 per 15 s: 2/3 per second, on both edges.
        rates = prom.query_range("sum by (name) (rate(demo_requests_total[1m]))", T0 + 60, T0 + 120, 30)
        assert sorted(s["metric"]["name"] for s in rates) == ["a->b", "c->d"]
        for s in rates:
            assert [t for t, _ in s["values"]] == [T0 + 60, T0 + 90, T0 + 120]
            assert all(v == pytest.approx(2 / 3) for _, v in s["values"])
        (level,) = prom.query('demo_level{name="a->b"}', T0 + 15 * 4)
        assert level["value"] == (T0 + 60, 1.0)  # 4 % 3
        _check_evaluate(prom)
        with pytest.raises(PrometheusError, match=r"sum by \(name\) \(rate\(x\[1m\]\): bad_data"):
            prom.query_range("sum by (name) (rate(x[1m])", T0, T0 + 60, 15)
        raise RuntimeError("boom")
    assert not _alive(pid)
    assert list(work.iterdir()) == []


def test_a_backfill_error_is_reported_and_nothing_is_left(tmp_path: Path) -> None:
    work = tmp_path / "work"
    bad = 'demo_total{name="x"} 1 not-a-time\n'
    with (
        pytest.raises(PrometheusError, match=r"promtool could not backfill openmetrics\[0\]"),
        LocalPrometheus([bad], work),
    ):
        pass
    assert list(work.iterdir()) == []


def test_substitute_and_legend_follow_grafana() -> None:
    assert substitute(
        'x{a=~"${run}",b="$name"}[$__rate_interval]', {"$run": ".*", "name": "n", "__rate_interval": "1m"}
    ) == ('x{a=~".*",b="n"}[1m]')
    with pytest.raises(KeyError, match=r"\$missing"):
        substitute("x[$missing]", {})
    assert legend("{{name}} {{ tier }}", {"name": "a", "tier": "cache"}) == "a cache"
    assert legend("", {"__name__": "m", "name": "a"}) == 'm{name="a"}'
