"""Series fit for comparison: run/scenario/seed labels, ASCII edges, timeouts by edge, Go-style ``le``,
and ``--epoch`` / ``--run-label`` on ``rwb run``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from prometheus_client.utils import floatToGoString
from simcase import small

from dashboards import ExportConfig
from dashboards import queries as q
from dashboards.promql import Scope
from resilience.metrics.catalog import LATENCY_BUCKETS
from sim import run
from sim.cli import main

_LINE = re.compile(r"^([a-z_]+)\{(.*)\} (\S+) (\S+)$")
_PAIR = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def _samples(text: str) -> list[tuple[str, dict[str, str], float, float]]:
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, line
        out.append((m.group(1), dict(_PAIR.findall(m.group(2))), float(m.group(3)), float(m.group(4))))
    return out


@pytest.fixture(scope="module")
def series() -> str:
    return run(small(), 4).series


def test_every_sample_names_its_run_scenario_and_seed(series: str) -> None:
    samples = _samples(series)
    assert samples
    for _, labels, _, _ in samples:
        assert (labels["run"], labels["scenario"], labels["seed"]) == ("small-4", "small", "4")
        assert labels["name"] == "web->api" and labels["name"].isascii()


def test_two_runs_stay_apart_and_the_run_label_can_be_chosen(series: str) -> None:
    other = run(small(), 4, run_label="after-fix").series
    keys = {(n, tuple(sorted(lb.items())), ts) for n, lb, _, ts in _samples(series)}
    keys2 = {(n, tuple(sorted(lb.items())), ts) for n, lb, _, ts in _samples(other)}
    assert len(keys) == len(keys2) and not keys & keys2  # loaded together, nothing is overwritten
    assert {lb["run"] for _, lb, _, _ in _samples(other)} == {"after-fix"}
    # negative control: without a distinct run label the two runs collide sample for sample
    assert {(n, tuple(sorted(lb.items())), ts) for n, lb, _, ts in _samples(run(small(), 4).series)} == keys
    with pytest.raises(ValueError, match="run_label='': must be a non-empty"):
        run(small(), 4, run_label="")


def test_timeouts_carry_the_edge(series: str) -> None:
    timeouts = [(lb, v) for n, lb, v, _ in _samples(series) if n == "resilience_timeouts_total"]
    assert timeouts and max(v for _, v in timeouts) > 0  # the spike makes attempts time out
    assert {(lb["name"], lb["source"], lb["phase"]) for lb, _ in timeouts} == {
        ("web->api", "client", "attempt")
    }


def test_bucket_bounds_are_written_like_prometheus_client(series: str) -> None:
    les = {lb["le"] for n, lb, _, _ in _samples(series) if n.endswith("_bucket")}
    assert les == {floatToGoString(b) for b in (*LATENCY_BUCKETS, float("inf"))}
    # the SLO rule's bucket selector names a bound that exists in the series
    expr = q.slo_error_ratio(
        Scope.edges(("web->api",)), "5m", ExportConfig(edges=("x",), timeout=1.0).slo_latency
    )
    (le,) = re.findall(r'le="([^"]+)"', expr)
    assert le in les


def _timestamps(path: Path) -> list[float]:
    return [ts for _, _, _, ts in _samples(path.read_text(encoding="utf-8"))]


def _scenario(tmp_path: Path) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(
        'name = "tiny"\nduration = 10.0\nwarmup = 0.0\nslo_latency = 1.0\nscrape_interval = 5.0\n'
        '[services.api]\nworkers = 2\nservice_time = { type = "exponential", mean = 0.01 }\n'
        '[clients.web]\ntarget = "api"\nworkload = { type = "poisson", rate = 20.0 }\n',
        encoding="utf-8",
    )
    return p


def test_epoch_and_run_label_options(tmp_path: Path) -> None:
    sc, out = _scenario(tmp_path), tmp_path / "s.om"
    assert main(["run", str(sc), "--series", str(out), "--epoch", "2026-05-01T12:00:00+02:00"]) == 0
    ts = _timestamps(out)
    assert min(ts) == 1777629600.0 and max(ts) == 1777629610.0
    before = time.time()
    assert main(["run", str(sc), "--series", str(out), "--epoch", "now", "--run-label", "mine"]) == 0
    ts = _timestamps(out)
    assert before - 2 <= max(ts) <= time.time() + 1  # the run ends now
    assert 'run="mine",scenario="tiny",seed="1"' in out.read_text(encoding="utf-8")
    assert main(["run", str(sc), "--series", str(out)]) == 0
    assert min(_timestamps(out)) == 1_767_225_600.0  # the scenario's epoch when not overridden


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epoch", "2026-05-01T12:00:00"], "must name its time zone"),
        (["--epoch", "yesterday"], "must be 'now' or an RFC 3339 time"),
        (["--run-label", " "], "--run-label=' ': must be a non-empty string"),
    ],
)
def test_bad_epoch_or_run_label_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["run", str(_scenario(tmp_path)), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_a_counter_first_seen_mid_run_starts_from_zero_one_scrape_earlier() -> None:
    """Without the zero sample, ``rate()`` cannot see a counter's first burst: Prometheus takes the first
    sample of a series as its start, not as an increase. The flagship's timeouts start with the fault."""
    import dataclasses

    from sim import load_scenario

    sc = load_scenario("scenarios/retry_storm_resilient.toml")
    text = run(dataclasses.replace(sc, duration=50.0), 1).series
    rows = _samples(text)
    scrapes = sorted({ts for _, _, _, ts in rows})
    checked = 0
    by_series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    for name, labels, value, ts in rows:
        by_series.setdefault((name, tuple(sorted(labels.items()))), []).append((ts, value))
    for (name, _), points in by_series.items():
        if not name.endswith(("_total", "_bucket", "_count", "_sum")):
            continue
        points.sort()
        first_t, first_v = points[0]
        if first_t == scrapes[0]:
            continue
        checked += 1
        assert first_v == 0, (name, points[:3])
        assert points[1][1] > 0 or name.endswith("_bucket"), (name, points[:3])  # the first event follows
        assert scrapes[scrapes.index(first_t) + 1] == points[1][0]  # exactly one scrape earlier
    timeouts = [k for k in by_series if k[0] == "resilience_timeouts_total"]
    assert timeouts and all(by_series[k][0][0] > scrapes[0] for k in timeouts)  # they do start mid-run
    assert checked >= len(timeouts)
