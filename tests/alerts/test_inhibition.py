"""An open breaker inhibits the error-rate alerts it explains, on a real Alertmanager on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from exportkit import config, tool

import alerts

pytestmark = pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def call(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@contextmanager
def alertmanager(tmp_path: Path, cfg: dict[str, Any]) -> Iterator[str]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [tool("prometheus-alertmanager"), f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                call(url + "/api/v2/status")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "alertmanager did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def alert(alertname: str, /, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": alertname, **labels}, "annotations": {"summary": alertname}}


POSTED = [
    alert("ResilienceBreakerStuckOpen", name="web->api", severity="critical"),
    alert("ResilienceErrorBudgetBurnFast", name="web->api", severity="critical"),
    alert("ResilienceFallbackEngaged", name="web->api", severity="warning"),
    alert("ResilienceErrorBudgetBurnFast", name="web->db", severity="critical"),
    alert("ResilienceTimeoutRateHigh", name="web->api", source="client", severity="warning"),
]


def states(url: str) -> dict[tuple[str, str], str]:
    """``(alertname, name) -> state`` once Alertmanager holds every posted alert."""
    call(url + "/api/v2/alerts", POSTED)
    deadline = time.monotonic() + 10
    while True:
        got = call(url + "/api/v2/alerts")
        if len(got) == len(POSTED) or time.monotonic() > deadline:
            return {(a["labels"]["alertname"], a["labels"]["name"]): a["status"]["state"] for a in got}
        time.sleep(0.1)


def test_an_open_breaker_inhibits_the_errors_it_explains_on_its_own_edge(tmp_path: Path) -> None:
    with alertmanager(tmp_path, alerts.alertmanager_config(config())) as url:
        got = states(url)
    assert got == {
        ("ResilienceBreakerStuckOpen", "web->api"): "active",
        ("ResilienceErrorBudgetBurnFast", "web->api"): "suppressed",
        ("ResilienceFallbackEngaged", "web->api"): "suppressed",
        ("ResilienceErrorBudgetBurnFast", "web->db"): "active",  # another edge: not explained
        ("ResilienceTimeoutRateHigh", "web->api"): "active",  # a cause, not a consequence
    }


def test_without_the_inhibit_rule_nothing_is_suppressed(tmp_path: Path) -> None:
    cfg = alerts.alertmanager_config(config())
    del cfg["inhibit_rules"]
    with alertmanager(tmp_path, cfg) as url:
        got = states(url)
    assert set(got.values()) == {"active"} and len(got) == len(POSTED)
