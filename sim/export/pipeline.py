"""Export a scenario: simulate the incident and its healthy baseline, write dashboards, rules,
Alertmanager config and a ``promtool test rules`` backtest, and run promtool on it."""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import alerts
import dashboards
from dashboards import ExportConfig
from dashboards.promql import duration, number
from sim.export.backtest import BACKTESTED, NOT_BACKTESTED, expected, read_by, scale_for, to_run, trim
from sim.export.config import ExportError, export_config
from sim.scenario.spec import Scenario

__all__ = [
    "Export",
    "PromtoolMissing",
    "Runs",
    "baseline_of",
    "check_expect",
    "export",
    "promtool_test",
    "simulate",
    "write",
]

INSTALL = "install it with `make system-tools` (or `apt-get install prometheus`)"

Progress = Callable[[str], None]


class PromtoolMissing(RuntimeError):
    """``promtool`` is not on PATH."""


@dataclass(frozen=True, slots=True)
class Runs:
    """The series of an incident run and its healthy baseline (same scenario and seed, no faults)."""

    scenario: Scenario
    seed: int
    incident_label: str
    baseline_label: str
    incident: str  # OpenMetrics text
    baseline: str


@dataclass(frozen=True, slots=True)
class Export:
    """What ``write`` produced: the files, the config and time scale used, promtool's verdict."""

    out: Path
    config: ExportConfig
    scale: float
    files: tuple[Path, ...]
    expected: tuple[str, ...]
    passed: bool
    promtool_output: str
    runs: Runs

    @property
    def dashboards(self) -> list[dict[str, Any]]:
        return list(dashboards.build(self.config).values())


def baseline_of(scenario: Scenario) -> Scenario:
    """The healthy baseline: the same scenario without its faults."""
    return dataclasses.replace(scenario, faults=())


def _series(scenario: Scenario, seed: int, label: str) -> str:
    from sim.engine import run

    return run(scenario, seed, run_label=label).series


def simulate(
    scenario: Scenario, seed: int = 1, run_label: str | None = None, *, parallel: bool = True
) -> Runs:
    """Run the incident and its baseline (two processes when ``parallel``); run labels L, L-baseline."""
    from sim.engine import run_labels

    label = dict(run_labels(scenario, seed, run_label))["run"]
    jobs = [(scenario, seed, label), (baseline_of(scenario), seed, f"{label}-baseline")]
    if parallel:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            texts = list(pool.map(_series, *zip(*jobs, strict=True)))
    else:
        texts = [_series(*job) for job in jobs]
    return Runs(scenario, seed, label, f"{label}-baseline", texts[0], texts[1])


def check_expect(scenario: Scenario, expect: Sequence[str]) -> None:
    """Raise ``ExportError`` unless every expected alert is backtested and the scenario has a fault."""
    unknown = [k for k in expect if k not in BACKTESTED]
    if unknown:
        raise ExportError(
            f"expect={unknown[0]!r}: not a backtested alert (known: {', '.join(BACKTESTED)}; "
            f"not yet backtested: {', '.join(NOT_BACKTESTED)})"
        )
    if expect and not scenario.faults:
        raise ExportError(
            f"expect={list(expect)!r}: the scenario has no faults, so no incident to expect them in"
        )


def promtool_test(path: Path) -> tuple[bool, str]:
    """Run ``promtool test rules path``: (passed, its output)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise PromtoolMissing(f"promtool not found: {INSTALL}")
    done = subprocess.run(
        [promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=300
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def write(
    runs: Runs,
    out: Path,
    *,
    config: ExportConfig | None = None,
    expect: Sequence[str] = (),
    scale: float | None = None,
    bounds_from: ExportConfig | None = None,
    run_promtool: bool = True,
) -> Export:
    """Write ``out/dashboards/*.json`` and ``out/alerts/{rules,rules.scaled,alertmanager,tests}.yml``.

    ``expect``: alert keys (no prefix) that must fire during the incident within their bound and stay
    silent on the baseline; without it, every alert must stay silent on the baseline and the incident is
    not asserted. ``config`` defaults to the scenario's ``export_config``; ``scale`` (K, default
    ``scale_for``) divides every window and ``for`` of the backtested rule copy. ``bounds_from``: the
    config whose durations state the bounds (default ``config``), so a mistuned copy is held to the
    tuned bounds.
    """
    sc = runs.scenario
    c = config if config is not None else export_config(sc)
    if sc.multi_tier and not c.tiers:  # the dashboards get a Tiers row for the service graph
        c = dataclasses.replace(c, tiers=tuple(sc.services))
    check_expect(sc, expect)
    if scale is not None and not (math.isfinite(scale) and scale >= 1):
        raise ExportError(f"scale={scale!r}: must be >= 1 and finite")
    scale = scale_for(c, sc.scrape_interval) if scale is None else float(scale)
    files = alerts.build(c, scale=scale)
    (out / "alerts").mkdir(parents=True, exist_ok=True)
    written = dashboards.write(c, out / "dashboards")
    for name, text in sorted(files.items()):
        path = out / "alerts" / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    scaled = yaml.safe_load(files["rules.scaled.yml"])
    checked = {c.alert_prefix + k for k in expect} or set(alerts.alert_names(scaled))
    keep = read_by(scaled, checked)  # promtool is given only the series the checked rules read
    base = f"{runs.baseline_label} (baseline: silent)"
    test_runs = [to_run(base, runs.baseline, sc.epoch, sc.scrape_interval,
                        keep=keep)]  # fmt: skip
    if expect:
        exp = expected(sc, bounds_from or c, list(expect), scale)
        test_runs.insert(0, to_run(f"{runs.incident_label} (incident)", runs.incident, sc.epoch,
                                   sc.scrape_interval, exp, keep))  # fmt: skip
    test = trim(alerts.backtest(scaled, "rules.scaled.yml", test_runs, scale=scale), checked, sc.warmup)
    test["evaluation_interval"] = duration(2 * sc.scrape_interval)  # checks fall every 4 scrapes
    header = (
        f"# Backtest of rules.scaled.yml: every rule window and `for` divided by K={number(scale)}.\n"
        f"# Runs: {runs.incident_label} (scenario {sc.name}, seed {runs.seed}) and its baseline "
        "without faults.\n"
        "# Expected alerts fire from fault start + bound (for + window + 2 scrape intervals, scaled)\n"
        "# to fault end; the baseline keeps them silent. Checks start after the warmup.\n"
    )
    tests = out / "alerts" / "tests.yml"
    tests.write_text(header + alerts.dumps(test), encoding="utf-8")
    written.append(tests)
    passed, output = promtool_test(tests) if run_promtool else (True, "")
    return Export(out, c, scale, tuple(written), tuple(expect), passed, output, runs)


def export(
    scenario: Scenario,
    out: Path,
    *,
    seed: int = 1,
    run_label: str | None = None,
    expect: Sequence[str] = (),
    config: ExportConfig | None = None,
    scale: float | None = None,
    progress: Progress | None = None,
) -> Export:
    """``simulate`` then ``write``; ``progress`` receives a line per long step."""
    check_expect(scenario, expect)
    say = progress or (lambda _line: None)
    say(f"simulating {scenario.name} (seed {seed}): incident and baseline, {scenario.duration:g} s each")
    runs = simulate(scenario, seed, run_label)
    say("writing dashboards and rules; running promtool test rules")
    return write(runs, out, config=config, expect=expect, scale=scale)
