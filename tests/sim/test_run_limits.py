"""Runs that would take hours or exhaust memory are refused (or warned about) before they start."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import pytest
import tqdm

from sim import load_scenario, run
from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
STORM = ROOT / "scenarios" / "retry_storm.toml"
RESILIENT = ROOT / "scenarios" / "retry_storm_resilient.toml"


class Started(Exception):
    """Raised by the stand-in for the simulation: it was about to run."""


def scenario(tmp_path: Path, base: Path, old: str, new: str) -> Path:
    p = tmp_path / "s.toml"
    text = base.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new), encoding="utf-8")
    return p


def rwb(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[bool, str]:
    """(whether the simulation started, stderr); the simulation itself is replaced by ``Started``."""
    started = []

    def fake_run(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise Started

    monkeypatch.setattr("sim.engine.run", fake_run)
    with contextlib.suppress(Started):  # rwb may also report it as an internal error: left out below
        main(argv)
    err = capsys.readouterr().err
    return bool(started), "".join(
        line for line in err.splitlines(True) if "internal error: Started" not in line
    )


def test_a_billion_requests_per_second_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = scenario(tmp_path, STORM, "rate = 600.0", "rate = 1e9")
    started, err = rwb(["run", str(p)], monkeypatch, capsys)
    assert not started
    assert len(err.splitlines()) == 1
    assert err.startswith(
        f"error: {p}: run refused before it starts: ~4.8e+11 events exceed the limit of 1.0e+09"
    )
    assert "~1.2e+11 requests" in err and err.endswith("--force runs it anyway\n")
    started, err = rwb(["run", str(p), "--force"], monkeypatch, capsys)
    assert started and err.startswith(f"warning: {p}: ~4.8e+11 events exceed the limit")


def test_a_long_run_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = scenario(tmp_path, STORM, "rate = 600.0", "rate = 60000.0")  # 7.2 million requests in 120 s
    started, err = rwb(["run", str(p)], monkeypatch, capsys)
    assert started
    assert err.startswith(f"warning: {p}: this run may take ~")
    assert "~7.2e+06 requests" in err


def test_the_shipped_demo_is_neither_refused_nor_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in (STORM, RESILIENT):
        started, err = rwb(["run", str(path)], monkeypatch, capsys)
        assert started and err == ""


def test_more_instances_than_memory_holds_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sim.scenario.estimate.available_memory", lambda: 2e9)
    many = scenario(tmp_path, RESILIENT, "instances = 50", "instances = 1000000")
    started, err = rwb(["run", str(many)], monkeypatch, capsys)
    assert not started
    assert "for 1.0e+06 instances exceeds the 1.9 GB of memory available" in err
    assert rwb(["run", str(RESILIENT)], monkeypatch, capsys)[0]  # the same model at 50 instances starts


def test_the_progress_bar_moves_in_simulated_seconds_with_events_per_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc = dataclasses.replace(load_scenario(STORM), duration=30.0, faults=())
    out = io.StringIO()
    original = tqdm.tqdm.__init__

    def to_buffer(self: tqdm.tqdm, *args: object, **kwargs: object) -> None:
        kwargs["file"] = out
        original(self, *args, **kwargs)

    monkeypatch.setattr(tqdm.tqdm, "__init__", to_buffer)
    run(sc, 1, progress=True)
    text = out.getvalue()
    assert "/30.0 sim s" in text
    assert "events/s" in text
