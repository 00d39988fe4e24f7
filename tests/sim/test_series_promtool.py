"""The OpenMetrics series: catalog names, cumulative counters, and a real backfill with promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from simcase import small

from resilience.breaker import BreakerConfig
from resilience.budget import TokenBucketBudgetConfig
from resilience.metrics.catalog import CATALOG
from sim import ClientGroup, Poisson, run

_LINE = re.compile(r"^([a-z_]+)(\{.*\})? (\S+) (\S+)$")


def _series_run() -> str:
    sc = small(duration=30.0, scrape_interval=5.0)
    group = sc.clients["web"]
    import dataclasses

    group = dataclasses.replace(
        group,
        breaker=BreakerConfig(window_size=20, minimum_calls=10, wait_in_open=1.0),
        budget=TokenBucketBudgetConfig(capacity=50),
    )
    return run(dataclasses.replace(sc, clients={"web": group}), 1).series


def _promtool() -> str:
    for _ in range(60):  # the system tools may still be installing
        path = shutil.which("promtool")
        if path:
            return path
        time.sleep(5)
    raise AssertionError("promtool not found (scripts/install-system-tools.sh installs it)")


def test_series_use_catalog_names_and_are_cumulative() -> None:
    text = _series_run()
    assert text.endswith("# EOF\n")
    families = {spec.family for spec in CATALOG.values()}
    last: dict[str, float] = {}
    times: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            if line.startswith("# TYPE"):
                assert line.split()[2] in families
            continue
        m = _LINE.match(line)
        assert m, line
        name, labels, value, ts = m.groups()
        times.add(ts)
        if name.endswith("_total"):
            key = name + (labels or "")
            assert float(value) >= last.get(key, 0.0)
            last[key] = float(value)
    assert len(times) == 7  # scrapes at 0, 5, …, 30 s
    labels = 'run="small-1",scenario="small",seed="1"'
    assert f'resilience_breaker_state{{name="web->api",state="closed",{labels}}}' in text
    assert f'resilience_breaker_calls_total{{name="web->api",kind="successful",{labels}}}' in text
    assert "resilience_budget_tokens" in text and "resilience_request_duration_seconds_bucket" in text


def test_promtool_backfill_counts_every_sample(tmp_path: Path) -> None:
    promtool = _promtool()
    text = _series_run()
    src = tmp_path / "series.om"
    src.write_text(text, encoding="utf-8")
    samples = [ln for ln in text.splitlines() if not ln.startswith("#")]
    series = {ln.rsplit(" ", 2)[0] for ln in samples}
    out = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(src), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [ln.split() for ln in out.splitlines() if re.match(r"^[0-9A-Z]{26}\s", ln)]
    assert rows, out
    assert sum(int(r[4]) for r in rows) == len(samples)
    assert sum(int(r[6]) for r in rows) == len(series)
    epoch_ms = 1_767_225_600_000
    assert min(int(r[1]) for r in rows) == epoch_ms
    assert max(int(r[2]) for r in rows) == epoch_ms + 30_000 + 1  # max time is exclusive


def test_group_labels_follow_the_edge() -> None:
    sc = small(clients={"web": ClientGroup(target="api", workload=Poisson(rate=10.0))}, links={}, faults=())
    text = run(sc, 2).series
    labels = 'run="small-2",scenario="small",seed="2"'
    assert f'resilience_requests_total{{name="web->api",result="success",reason="",{labels}}}' in text
