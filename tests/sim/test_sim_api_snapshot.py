"""The simulator's public-API contract: the names of ``sim`` (and ``rwb``'s module) match the committed
snapshot, whatever module inside ``sim`` defines them."""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path

import pytest

from resilience._api import documentation
from sim._api import PACKAGES, render

SNAPSHOT = Path(__file__).with_name("api_snapshot.txt")
HINT = "run `make api-snapshot` if the change is intended"


def test_public_api_matches_the_committed_snapshot() -> None:
    expected, actual = SNAPSHOT.read_text(encoding="utf-8"), render()
    if expected != actual:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile="tests/sim/api_snapshot.txt (committed)",
            tofile="python -m sim._api (current)",
        )
        pytest.fail(f"The public API of sim changed; {HINT}.\n\n" + "".join(diff), pytrace=False)


def test_snapshot_names_the_run_entry_points_and_the_scenario_types() -> None:
    text = render()
    assert text.startswith("# The public API of sim.")
    assert "[sim]\n" in text and "[sim.cli]\n" in text
    run = (
        "\nrun: function(scenario: Scenario, seed: int = 0, *, progress: bool = False, "
        "run_label: str | None = None) -> RunResult\n"
    )
    assert run in text
    assert "\nmain: function(argv: list[str] | None = None) -> int\n" in text
    assert "\nScenario: config\n" in text


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_unique_and_every_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names), "keep __all__ sorted"
    assert len(names) == len(set(names)), "__all__ has duplicates"
    assert [n for n in names if not hasattr(module, n)] == []


def test_every_public_class_and_function_of_sim_is_documented() -> None:
    module = importlib.import_module("sim")
    undocumented = [n for n in module.__all__ if documentation(n, getattr(module, n)) is None]
    assert undocumented == []
