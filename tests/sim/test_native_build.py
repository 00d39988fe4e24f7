"""The compiled build's guard: ``import sim`` refuses compiled modules that no longer match their sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from sim import native

ROOT = Path(__file__).resolve().parents[2]


def _package(tmp_path: Path, sources: dict[str, str]) -> Path:
    """A package directory ``tmp_path/sim`` holding ``sources`` (paths relative to ``tmp_path``)."""
    for rel, text in sources.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "sim"


def _manifest(package: Path, sources: dict[str, str]) -> None:
    digests = {rel: native.digest(package.parent / rel) for rel in sources}
    (package / native.MANIFEST).write_text(json.dumps({"sources": digests}), encoding="utf-8")


def test_a_pure_package_passes(tmp_path: Path) -> None:
    package = _package(tmp_path, {"sim/a.py": "x = 1\n"})
    assert native.check(package) == []
    assert native.build_state(package) == "pure Python"


def test_a_matching_build_passes_and_says_so(tmp_path: Path) -> None:
    sources = {"sim/a.py": "x = 1\n", "sim/graph/b.py": "y = 2\n"}
    package = _package(tmp_path, sources)
    _manifest(package, sources)
    assert native.check(package) == []
    assert native.build_state(package) == "compiled (2 modules, mypyc)"


def test_an_edited_or_removed_source_is_named(tmp_path: Path) -> None:
    sources = {"sim/a.py": "x = 1\n", "sim/graph/b.py": "y = 2\n", "sim/c.py": "z = 3\n"}
    package = _package(tmp_path, sources)
    _manifest(package, sources)
    (tmp_path / "sim/graph/b.py").write_text("y = 3\n", encoding="utf-8")
    (tmp_path / "sim/c.py").unlink()
    assert native.check(package) == [
        "sim/c.py: compiled, but the source is gone",
        "sim/graph/b.py: changed since it was compiled",
    ]
    assert native.build_state(package) == "pure Python"
    with pytest.raises(native.StaleBuildError, match=r"(?s)sim/graph/b.py: changed.*make native.*make pure"):
        native.ensure_current(package)


def test_a_runtime_library_without_a_manifest_is_refused(tmp_path: Path) -> None:
    package = _package(tmp_path, {"sim/a.py": "x = 1\n"})
    runtime = f"{native.GROUP}__mypyc{EXTENSION_SUFFIXES[0]}"
    (package / runtime).write_bytes(b"")
    assert native.check(package) == [f"sim/{runtime}: a compiled build without {native.MANIFEST}"]


def test_import_sim_runs_the_guard(tmp_path: Path) -> None:
    """A copy of the package with a manifest that disagrees with one source: ``import sim`` fails and
    names it; the same copy with a correct manifest imports (negative control)."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "sim", copy / "sim", ignore=shutil.ignore_patterns("*.so", native.MANIFEST))
    sources = {m: "" for m in native.MODULES}
    _manifest(copy / "sim", sources)
    code = "import sim; print(sim.native.build_state())"
    env = {"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-c", code], cwd=copy, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"compiled ({len(native.MODULES)} modules, mypyc)"
    edited = copy / native.MODULES[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, "-c", code], cwd=copy, env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    expected = f"StaleBuildError: the compiled simulator does not match its sources:\n  {native.MODULES[0]}"
    assert expected in bad.stderr


def test_make_pure_removes_a_stale_build(tmp_path: Path) -> None:
    """The way out that ``StaleBuildError`` names works on the stale build itself: the script that
    removes it does not trip over the guard on importing ``sim``."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "sim", copy / "sim", ignore=shutil.ignore_patterns("*.so", native.MANIFEST))
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    _manifest(copy / "sim", {m: "" for m in native.MODULES})
    runtime = copy / "sim" / f"{native.GROUP}__mypyc{EXTENSION_SUFFIXES[0]}"
    runtime.write_bytes(b"")
    edited = copy / native.MODULES[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin"}
    check = [sys.executable, "-c", "import sim"]
    assert subprocess.run(check, cwd=copy, env=env, capture_output=True).returncode == 1  # stale
    done = subprocess.run(
        [sys.executable, "scripts/native.py", "clean"], cwd=copy, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "native: removed 2 files"
    assert not runtime.exists() and not (copy / "sim" / native.MANIFEST).exists()
    assert subprocess.run(check, cwd=copy, env=env, capture_output=True).returncode == 0
