"""The breaker-tuning notebook in a real browser: Voilà renders it, headless Chromium drives it.

Moving the `open wait` slider must redraw the breaker-state chart with exactly the values of a
fresh run of the same scenario, seed and setting computed here.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "02_breaker_tuning.ipynb"
CHROMIUM = "/usr/bin/chromium"
SEED = 1  # the notebook's SEED

_OPEN_TRACE = """() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const t = (gd.data || []).find(t => t.name === 'open');
    if (t && t.y && t.y.length) return Array.from(t.y);
  }
  return null;
}"""


def _wait_for_change(page: Page, before: list[float], timeout: float) -> list[float]:
    """The chart's y-values once they differ from ``before`` (the background re-run has drawn)."""
    end = time.monotonic() + timeout
    while True:
        shown = page.evaluate(_OPEN_TRACE)
        if shown != before:
            return list(shown)
        if time.monotonic() > end:
            raise AssertionError(f"the chart did not change within {timeout} s of moving the slider")
        time.sleep(0.25)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def voila_url(tmp_path: Path) -> Iterator[str]:
    """Voilà serving the notebook on 127.0.0.1 (full horizon, background re-runs); always stopped."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "RWB_NOTEBOOK_TEST"}
    log = (tmp_path / "voila.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            NOTEBOOK.name,
        ],
        cwd=NOTEBOOKS,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"voila did not start: {(tmp_path / 'voila.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def _open_fraction(wait_in_open: float) -> list[float]:
    """The chart's expected y-values: a fresh run here with the notebook's scenario and seed."""
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        from nbkit.scenarios import BREAKER_DEFAULTS, breaker_scenario
    finally:
        sys.path.remove(str(NOTEBOOKS))
    from sim import run

    result = run(breaker_scenario(**{**BREAKER_DEFAULTS, "wait_in_open": wait_in_open}), seed=SEED)
    bins = result.bins
    rows = bins[bins["entity_kind"] == "breaker"]
    return [float(v) for v in rows["breaker_open_fraction"]]


def test_slider_moves_chart_to_a_fresh_runs_values(voila_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.delenv("RWB_NOTEBOOK_TEST", raising=False)  # the same full horizon as the served notebook
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route(lambda u: not u.startswith(voila_url), lambda route: route.abort())  # offline
            page.goto(voila_url, timeout=120_000)
            page.wait_for_selector(".js-plotly-plot", timeout=120_000)
            page.wait_for_function(_OPEN_TRACE, timeout=60_000)

            slider = page.locator(".widget-slider", has_text="open wait (s)")
            assert slider.count() == 1
            readout = slider.locator(".widget-readout")
            before_value = float(readout.inner_text())
            before = page.evaluate(_OPEN_TRACE)
            expected_before = _open_fraction(before_value)
            assert before == pytest.approx(expected_before, abs=1e-12), "the chart shows the default run"

            slider.locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")
            after_value = float(readout.inner_text())
            assert after_value == before_value + 0.5  # the slider's step

            expected_after = _open_fraction(after_value)
            assert any(not math.isclose(a, b) for a, b in zip(expected_after, expected_before, strict=True))
            shown = _wait_for_change(page, before, timeout=60.0)
            assert shown == pytest.approx(expected_after, abs=1e-12)
            assert "re-simulated in" in page.locator(".widget-html", has_text="re-simulated").inner_text()
        finally:
            browser.close()
