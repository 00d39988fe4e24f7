"""The flagship demo, shortened: naive retries never recover, the resilient stack does."""

from __future__ import annotations

from pathlib import Path

from sim.demo import run_demo, table


def test_demo_naive_never_recovers_resilient_does(tmp_path: Path) -> None:
    results, report = run_demo(tmp_path, seed=1, duration=55.0, progress=False)
    naive, resilient = (r.summary for r in results)
    assert naive["recovery_seconds"] is None
    assert resilient["recovery_seconds"] is not None and resilient["recovery_seconds"] <= 5.0
    assert naive["amplification"] > 3 * resilient["amplification"]
    assert resilient["goodput_ratio"] > 0.8 > 0.3 > naive["goodput_ratio"]
    assert resilient["breakers"]["web→api"]["opened"] > 0
    assert report is not None and report.exists()
    html = report.read_text(encoding="utf-8")
    assert "plotly" in html and "retry-storm-naive" in html
    text = table(results)
    assert "recovery (s)" in text and "never" in text
