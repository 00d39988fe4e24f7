"""``rwb demo`` works from a plain ``pip install .``: the wheel carries the scenarios the demo reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from sim.demo import SCENARIOS, demo_scenarios

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_demo_scenarios(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("resilience", "sim", "dashboards", "alerts"):
        if (ROOT / pkg).is_dir():
            shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"sim/scenarios/retry_storm.toml", "sim/scenarios/retry_storm_resilient.toml"} <= names
    assert {"sim/demo.py", "sim/cli/__init__.py", "sim/cli/__main__.py"} <= names


def test_the_demo_reads_its_scenarios_from_the_package() -> None:
    package = (ROOT / "sim").resolve()
    assert [p.resolve().parent for p in SCENARIOS] == [package / "scenarios"] * 2
    assert [sc.name for sc in demo_scenarios()] == ["retry-storm-naive", "retry-storm-resilient"]


def test_the_packaged_scenarios_match_the_repository_copies() -> None:
    for p in SCENARIOS:
        assert p.read_bytes() == (ROOT / "scenarios" / p.name).read_bytes(), p.name
