"""Per-tier series of a multi-tier run: catalog names, cumulative counters that end on the run's
per-tier totals, whole-second samples that hold exactly the seconds before, and promtool's checks.

The run is ``scenarios/graph/three_tiers.toml`` under Poisson load with a per-IP rate limit at the
top tier, a bounded queue in the middle, errors and attempt timeouts at the bottom and a fallback
on the top edge, so every ``resilience_tier_*`` family has events. Totals are recomputed from
``GraphResult.tier_seconds`` (per-second counts) and the summary, never from the series code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from simcase import small

from resilience.metrics.catalog import CATALOG, MetricType
from sim import Scenario, run, scenario_from_dict
from sim.graph.engine import build
from sim.graph.result import GraphResult
from sim.graph.series import install

THREE_TIERS = Path(__file__).parents[2] / "scenarios" / "graph" / "three_tiers.toml"
SAMPLE = re.compile(r"^([a-z_]+)(\{.*\})? (\S+) (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
TIER_FAMILIES = {s.name for s in CATALOG.values() if s.name.startswith("resilience_tier_")}


def tier_scenario(scrape_interval: float = 1.5) -> Scenario:
    """three_tiers.toml with load and something happening in every tier family."""
    data: dict[str, Any] = tomllib.loads(THREE_TIERS.read_text(encoding="utf-8"))
    data.update(duration=20.0, warmup=0.0, scrape_interval=scrape_interval)
    data["clients"]["web"].update(workload={"type": "poisson", "rate": 40.0}, ips=4)
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


Key = tuple[str, tuple[tuple[str, str], ...]]


def parse(text: str) -> dict[Key, list[tuple[float, float]]]:
    """Every sample series (name with suffix, labels) -> [(time, value)] in file order."""
    out: dict[Key, list[tuple[float, float]]] = defaultdict(list)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        name, labels, value, ts = m.groups()
        out[name, tuple(LABEL.findall(labels or ""))].append((float(ts), float(value)))
    return dict(out)


@pytest.fixture(scope="module")
def result() -> GraphResult:
    r = run(tier_scenario(), 7)
    assert isinstance(r, GraphResult)
    return r


@pytest.fixture(scope="module")
def tier_samples(result: GraphResult) -> dict[Key, list[tuple[float, float]]]:
    return {k: v for k, v in parse(result.series).items() if k[0].startswith("resilience_tier_")}


def last(samples: dict[Key, list[tuple[float, float]]], name: str, **labels: str) -> float:
    """The last value of the one series of ``name`` whose labels include ``labels``."""
    hits = [v for (n, lab), v in samples.items() if n == name and labels.items() <= dict(lab).items()]
    assert len(hits) == 1, (name, labels, len(hits))
    return hits[0][-1][1]


def test_every_tier_family_is_written_with_catalog_labels(
    result: GraphResult, tier_samples: dict[Key, list[tuple[float, float]]]
) -> None:
    assert {n for n, _ in tier_samples} == TIER_FAMILIES
    run_labels = {"run": "three-tiers-7", "scenario": "three-tiers", "seed": "7"}
    for (name, labels), values in tier_samples.items():
        d = dict(labels)
        assert [k for k, _ in labels] == [*CATALOG[name].labels, "run", "scenario", "seed"], name
        assert d["tier"] in {"a", "b", "c"}
        assert {k: d[k] for k in run_labels} == run_labels
        if CATALOG[name].type is MetricType.COUNTER:
            assert all(b[1] >= a[1] for a, b in pairwise(values)), (name, labels)
    text = result.series
    for name in TIER_FAMILIES:
        spec = CATALOG[name]
        assert f"# TYPE {spec.family} {spec.type.value}\n# HELP {spec.family} " in text


def test_last_samples_equal_the_runs_per_tier_totals(
    result: GraphResult, tier_samples: dict[Key, list[tuple[float, float]]]
) -> None:
    ts = result.tier_seconds
    tiers = result.summary["tiers"]  # warmup 0: the summary counts every event too
    span = result.sim_seconds
    checked = 0
    for tier, rows in ts.groupby("tier"):
        total = rows.sum(numeric_only=True)
        s = tier_samples
        assert last(s, "resilience_tier_requests_total", tier=tier) == total["offered"]
        assert last(s, "resilience_tier_responses_total", tier=tier, result="success") == total["ok"]
        assert last(s, "resilience_tier_responses_total", tier=tier, result="error") == total["errors"]
        assert last(s, "resilience_tier_completed_total", tier=tier) == total["completed"]
        assert last(s, "resilience_tier_useful_work_total", tier=tier) == total["useful"]
        for col in rows.columns:
            if col.startswith("rejected_") and total[col]:
                cause = col.removeprefix("rejected_")
                assert last(s, "resilience_tier_rejections_total", tier=tier, cause=cause) == total[col]
                checked += 1
            if col.startswith("timeouts_") and total[col]:
                phase = col.removeprefix("timeouts_")
                n = last(s, "resilience_tier_timeouts_total", tier=tier, phase=phase)
                assert n == total[col]
                checked += 1
        summary = tiers[tier]
        for cause in ("queue_full", "refused"):
            if summary[cause]:
                assert last(s, "resilience_tier_rejections_total", tier=tier, cause=cause) == summary[cause]
                checked += 1
        fallbacks = {
            dict(lab)["fallback"]: v[-1][1]
            for (n, lab), v in s.items()
            if n == "resilience_tier_fallbacks_total" and dict(lab)["tier"] == tier
        }
        assert fallbacks == summary["fallbacks"]
        assert sum(fallbacks.values()) == total.get("fallbacks", 0)
        workers = result.scenario.services[tier].workers
        if workers:
            assert last(s, "resilience_tier_workers", tier=tier, replica="0") == workers
            busy = last(s, "resilience_tier_busy_seconds_total", tier=tier, replica="0")
            assert busy == pytest.approx(summary["utilisation"] * workers * span, rel=1e-9)
    # the scenario made every kind happen: rate limit and queue overflow, attempt timeouts, a fallback
    assert checked >= 3
    assert last(tier_samples, "resilience_tier_rejections_total", tier="a", cause="rate_limited") > 0
    assert last(tier_samples, "resilience_tier_rejections_total", tier="b", cause="queue_full") > 0
    assert last(tier_samples, "resilience_tier_timeouts_total", tier="b", source="gateway") > 0
    assert last(tier_samples, "resilience_tier_fallbacks_total", tier="a", fallback="cached_page") > 0


def test_whole_second_samples_hold_exactly_the_seconds_before(
    result: GraphResult, tier_samples: dict[Key, list[tuple[float, float]]]
) -> None:
    """Scrapes every 1.5 s: those on whole seconds equal the per-second counts summed before them."""
    epoch = result.scenario.epoch
    ts = result.tier_seconds
    compared = 0
    for name, col in (
        ("resilience_tier_requests_total", "offered"),
        ("resilience_tier_completed_total", "completed"),
        ("resilience_tier_useful_work_total", "useful"),
    ):
        for tier, rows in ts.groupby("tier"):
            values = tier_samples[name, (("tier", str(tier)), *_run_labels(result))]
            per_second = rows.sort_values("second")[col].tolist()
            for t, v in values:
                sim_t = round(t - epoch, 3)
                if sim_t.is_integer() and 0 < sim_t < result.sim_seconds:
                    assert v == sum(per_second[: int(sim_t)]), (name, tier, sim_t)
                    compared += 1
    assert compared >= 3 * 3 * 6  # 3, 6, …, 18 s for three families and three tiers


def _run_labels(result: GraphResult) -> tuple[tuple[str, str], ...]:
    return (("run", f"three-tiers-{result.seed}"), ("scenario", "three-tiers"), ("seed", str(result.seed)))


def test_every_tier_counter_starts_from_zero_and_has_no_gaps(
    result: GraphResult, tier_samples: dict[Key, list[tuple[float, float]]]
) -> None:
    """A counter whose first event comes between scrapes (rejections, timeouts, fallbacks: created at
    their first event) has a zero sample at the scrape before, so rate() counts its first events."""
    scrapes = sorted({t for values in tier_samples.values() for t, _ in values})
    assert len(scrapes) == 15  # 0, 1.5, …, 19.5 s and the end at 20 s
    born_with_events = 0
    for (name, labels), values in tier_samples.items():
        if CATALOG[name].type is MetricType.GAUGE:
            continue
        times = [t for t, _ in values]
        assert values[0][1] == 0, (name, labels)
        assert times == scrapes[scrapes.index(times[0]) :], (name, labels)
        if values[1][1] > 0:
            born_with_events += 1
    assert born_with_events >= 3


def test_same_seed_same_series_and_single_tier_runs_have_none(result: GraphResult) -> None:
    again = run(tier_scenario(), 7)
    assert again.series == result.series
    text = run(small(), 1).series
    assert "resilience_requests_total" in text and "resilience_tier_" not in text


def test_install_refuses_a_recorder_that_already_scraped() -> None:
    model = build(tier_scenario(), 1)
    model.rec.scrape_now(0.0)
    with pytest.raises(RuntimeError, match="before the run's first scrape"):
        install(model)


def exposition(text: str, families: set[str]) -> str:
    """The last scrape of ``families`` in the Prometheus text format that ``promtool check metrics``
    reads (no timestamps; a counter's TYPE and HELP name it with ``_total``)."""
    lines = text.splitlines()
    end = max(ln.rsplit(" ", 1)[1] for ln in lines if not ln.startswith("#"))
    wanted = {CATALOG[n].family: n for n in families}
    out = []
    for ln in lines:
        if ln.startswith(("# TYPE", "# HELP")):
            kind, family, rest = ln[2:6], *ln[7:].split(" ", 1)
            if family in wanted:
                out.append(f"# {kind} {wanted[family]} {rest}")
        elif not ln.startswith("#"):
            series, value, ts = ln.rsplit(" ", 2)
            if ts == end and series.split("{", 1)[0] in families:
                out.append(f"{series} {value}")
    return "\n".join(out) + "\n"


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found (scripts/install-system-tools.sh installs it)"
    return path


def test_promtool_lints_the_tier_families_clean(result: GraphResult) -> None:
    text = exposition(result.series, TIER_FAMILIES)
    assert text.count("# TYPE") == len(TIER_FAMILIES)
    done = subprocess.run([_promtool(), "check", "metrics"], input=text, capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    # negative control: the same lint rejects a counter without _total
    bad = text.replace("resilience_tier_requests_total", "resilience_tier_requests")
    done = subprocess.run([_promtool(), "check", "metrics"], input=bad, capture_output=True, text=True)
    assert done.returncode != 0 and "_total" in done.stdout + done.stderr


def test_promtool_backfill_counts_every_tier_sample(result: GraphResult, tmp_path: Path) -> None:
    text = result.series
    src = tmp_path / "series.om"
    src.write_text(text, encoding="utf-8")
    samples = [ln for ln in text.splitlines() if not ln.startswith("#")]
    series = {ln.rsplit(" ", 2)[0] for ln in samples}
    assert sum(1 for s in series if s.startswith("resilience_tier_")) >= 20
    out = subprocess.run(
        [_promtool(), "tsdb", "create-blocks-from", "openmetrics", str(src), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [ln.split() for ln in out.splitlines() if re.match(r"^[0-9A-Z]{26}\s", ln)]
    assert rows, out
    assert sum(int(r[4]) for r in rows) == len(samples)
    assert sum(int(r[6]) for r in rows) == len(series)
