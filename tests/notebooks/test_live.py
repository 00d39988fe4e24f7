"""The notebooks' live widgets: background re-runs coalesce, test mode re-runs synchronously."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "notebooks"))
from nbkit.live import Job, Live
from nbkit.live import test_mode as in_test_mode


class Recorder:
    """compute/render pair that records calls; compute blocks until released."""

    def __init__(self) -> None:
        self.computed: list[int] = []
        self.rendered: list[int] = []
        self.gate = threading.Event()

    def compute(self, values: dict[str, Any]) -> int:
        self.gate.wait(5)
        self.computed.append(values["k"])
        return int(values["k"])

    def render(self, k: int) -> None:
        self.rendered.append(k)


def test_changes_while_busy_coalesce_into_one_run_with_the_latest_values() -> None:
    rec = Recorder()
    slider = widgets.IntSlider(value=0, min=0, max=10)
    live = Live({"k": slider}, rec.compute, rec.render, synchronous=False)

    async def scenario() -> None:
        slider.value = 1  # starts a background run, blocked on the gate
        await asyncio.sleep(0.05)
        assert live.busy and "simulating" in live.status.value
        slider.value = 2  # while busy: remembered
        slider.value = 3  # while busy: replaces 2
        rec.gate.set()
        while live.busy:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert rec.computed == [1, 3]  # the stale value 2 was never simulated
    assert rec.rendered == [3]  # the run overtaken by a change is not drawn
    assert "re-simulated" in live.status.value and live.runs == 1


def test_synchronous_mode_runs_every_change_at_once() -> None:
    rec = Recorder()
    rec.gate.set()
    slider = widgets.IntSlider(value=0, min=0, max=10)
    live = Live({"k": slider}, rec.compute, rec.render, synchronous=True)
    for k in (1, 2, 3):
        slider.value = k
        assert rec.rendered[-1] == k  # drawn before the assignment returns
    assert rec.computed == [1, 2, 3] and live.runs == 3


def test_a_rejected_setting_keeps_the_figure_and_shows_the_rule() -> None:
    rendered: list[int] = []

    def compute(values: dict[str, Any]) -> int:
        if values["k"] > 5:
            raise ValueError(f"Config.k={values['k']}: must be <= 5")
        return int(values["k"])

    slider = widgets.IntSlider(value=0, min=0, max=10)
    live = Live({"k": slider}, compute, rendered.append, synchronous=True)
    slider.value = 3
    slider.value = 7
    assert rendered == [3]
    assert live.last_error is not None and "Config.k=7: must be" in live.status.value


def test_job_reports_progress_and_hands_over_the_result() -> None:
    done: list[str] = []

    def work(progress: Any) -> str:
        for i in range(4):
            progress(i + 1, 4)
        return "ok"

    job = Job("go", work, done.append, synchronous=True)
    job.button.click()
    assert done == ["ok"] and job.progress.value == job.progress.max == 4 and not job.button.disabled


def test_test_mode_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RWB_NOTEBOOK_TEST", "1")
    assert in_test_mode()
    monkeypatch.setenv("RWB_NOTEBOOK_TEST", "0")
    assert not in_test_mode()
    monkeypatch.delenv("RWB_NOTEBOOK_TEST")
    assert not in_test_mode()
