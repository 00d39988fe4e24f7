"""Golden files (RWB_UPDATE_GOLDEN=1 rewrites them), byte stability, and the two forms' only differences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from exportkit import config

import dashboards

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("RWB_UPDATE_GOLDEN") == "1"


def test_dashboards_match_the_golden_files(tmp_path: Path) -> None:
    written = dashboards.write(config(), tmp_path)
    assert [p.name for p in written] == ["rwb-resilience-sim.json", "rwb-resilience.json"]
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for path in written:
            (GOLDEN / path.name).write_bytes(path.read_bytes())
    for path in written:
        assert path.read_bytes() == (GOLDEN / path.name).read_bytes(), (
            f"{path.name} differs from tests/dashboards/golden; RWB_UPDATE_GOLDEN=1 refreshes it"
        )


@pytest.mark.parametrize("seed", ["1", "2"])
def test_the_json_is_byte_stable_across_processes(seed: str) -> None:
    code = "import sys, dashboards, exportkit; sys.stdout.write(dashboards.dumps(dashboards.build(exportkit.config())['rwb-resilience.json']))"  # noqa: E501
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout == dashboards.dumps(dashboards.build(config())["rwb-resilience.json"])


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (a whole subtree counts once)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}/{i}")
        ]
    return [] if a == b else [path]


def test_production_and_simulation_forms_differ_only_in_uid_title_tags_and_the_run_variable() -> None:
    models = dashboards.build(config())
    prod, sim = models["rwb-resilience.json"], models["rwb-resilience-sim.json"]
    diff = differences(prod, sim)
    run_index = [v["name"] for v in prod["templating"]["list"]].index("run")
    assert all(
        d in ("/uid", "/title") or d.startswith(("/tags/", f"/templating/list/{run_index}/")) for d in diff
    ), diff
    assert (prod["uid"], sim["uid"]) == ("rwb-resilience", "rwb-resilience-sim")
    assert prod["templating"]["list"][run_index]["type"] == "constant"
    assert sim["templating"]["list"][run_index]["type"] == "query"
    # the same expressions run on both: production's hidden run matches series without the label
    assert prod["templating"]["list"][run_index]["query"] == ".*"
    assert differences({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == ["/a/1/b"]
