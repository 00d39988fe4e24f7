"""The public-API contract: the committed snapshot, a sorted documented ``__all__``."""

from __future__ import annotations

import difflib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resilience._api import PACKAGES, documentation, render

SNAPSHOT = Path(__file__).with_name("api_snapshot.txt")
HINT = "run `make api-snapshot` if the change is intended"


def mismatch(expected: str, actual: str) -> str | None:
    """A unified diff from the committed snapshot to the current API, or None if equal."""
    if expected == actual:
        return None
    diff = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile="tests/resilience/api_snapshot.txt (committed)",
        tofile="python -m resilience._api (current)",
    )
    return f"The public API changed; {HINT}.\n\n" + "".join(diff)


def test_public_api_matches_the_committed_snapshot() -> None:
    problem = mismatch(SNAPSHOT.read_text(encoding="utf-8"), render())
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def test_mismatch_reports_a_unified_diff_and_the_hint() -> None:
    before = "[resilience]\nf: function(a: int = 1) -> int\n"
    after = "[resilience]\nf: function(a: int = 2) -> int\n"
    report = mismatch(before, after)
    assert report is not None
    assert HINT in report
    assert "-f: function(a: int = 1) -> int" in report
    assert "+f: function(a: int = 2) -> int" in report
    assert mismatch(before, before) is None


def test_entry_point_prints_the_same_snapshot_under_another_hash_seed() -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-m", "resilience._api"], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout == render()


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_unique(package: str) -> None:
    names = list(importlib.import_module(package).__all__)
    assert names == sorted(names), "keep __all__ sorted"
    assert len(names) == len(set(names)), "__all__ has duplicates"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_exists_and_is_documented(package: str) -> None:
    module = importlib.import_module(package)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
    undocumented = [n for n in module.__all__ if documentation(n, getattr(module, n)) is None]
    assert undocumented == [], (
        f"give these a docstring (data: a string literal after the assignment): {undocumented}"
    )


def test_snapshot_shows_signatures_defaults_fields_rules_and_members() -> None:
    text = render()
    assert "[resilience]\n" in text and "[resilience.metrics]\n" in text
    assert "  field max_attempts: int = 3  [must be in 1..1000]\n" in text
    assert (
        "  field backoff: Backoff = ExponentialBackoff(base=0.1, multiplier=2.0, cap=10.0, first_exponent=0, "
        "jitter=FullJitter())\n"
    ) in text
    assert 'ExponentialBackoff: config (type = "exponential")\n' in text
    assert "  member DEADLINE_EXCEEDED = 'deadline_exceeded'\n" in text
    assert (
        "parse_retry_after: function(value: str, *, wall_now: float | None = None) -> float | None\n" in text
    )
    assert "  property finished -> bool\n" in text
    assert "  classmethod from_dict(data: Mapping[str, Any]) -> Self\n" in text
    assert "Step: alias = Attempt | Wait | Done | GiveUp\n" in text
    assert " at 0x" not in text


def test_documentation_rules() -> None:
    def documented() -> None:
        """Says what."""

    def bare() -> None:
        pass

    assert documentation("documented", documented) == "Says what."
    assert documentation("bare", bare) is None
    assert documentation("CATALOG", importlib.import_module("resilience.metrics").CATALOG) is not None
    assert documentation("nothing", object()) is None
