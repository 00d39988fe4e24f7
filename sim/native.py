"""The optional compiled build of the simulator's hot modules, and the check that it is current.

``make native`` compiles the modules in ``MODULES`` to C extensions with mypyc, next to their
sources, and writes ``MANIFEST`` with each source's SHA-256. Python then imports the extension
instead of the source, so an edited source would silently not run; ``import sim`` therefore
refuses to start when a compiled module no longer matches its source (``check``). ``make pure``
removes the build. Results are identical either way; only the speed differs (README, "Benchmarks").
With ``RWB_PURE=1`` in the environment the sources run even when a build is present (``use_sources``):
benchmarks run both side by side, tests compare their results.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = [
    "GROUP",
    "MANIFEST",
    "MODULES",
    "StaleBuildError",
    "build_state",
    "check",
    "digest",
    "ensure_current",
]

PACKAGE = Path(__file__).resolve().parent
GROUP = "_native"  # mypyc group: its runtime is sim/_native__mypyc.*.so
MANIFEST = "_native_manifest.json"  # in the package directory, written by ``make native``
PURE_ENV = "RWB_PURE"  # set to 1: run the sources even when a compiled build is present
# The runtime's per-request path (multi-tier and single-tier) and its bookkeeping. Not here: the
# ``resilience`` library (a pure-Python contract for its users) and modules with dataclass configs.
MODULES = (
    "sim/graph/edge.py",
    "sim/graph/entry.py",
    "sim/graph/expiry.py",
    "sim/graph/late.py",
    "sim/graph/series.py",
    "sim/graph/tier.py",
    "sim/graph/visit.py",
    "sim/model/arrivals.py",
    "sim/model/balancers.py",
    "sim/model/cache.py",
    "sim/model/clock.py",
    "sim/model/client.py",
    "sim/model/compensation.py",
    "sim/model/connections.py",
    "sim/model/driver.py",
    "sim/model/flood.py",
    "sim/model/gates.py",
    "sim/model/health.py",
    "sim/model/instances.py",
    "sim/model/links.py",
    "sim/model/outliers.py",
    "sim/model/queueing.py",
    "sim/model/service.py",
    "sim/model/side_effects.py",
    "sim/model/streams.py",
    "sim/observe/bins.py",
    "sim/observe/breakers.py",
    "sim/observe/column.py",
    "sim/observe/histogram.py",
    "sim/observe/record.py",
    "sim/observe/series.py",
    "sim/stepper.py",
)


class StaleBuildError(ImportError):
    """A compiled module does not match its source (edited, or checked out, after ``make native``)."""


def digest(path: Path) -> str:
    """SHA-256 of a source file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _runtime(package: Path) -> list[Path]:
    """mypyc's shared runtime library of the build, if present (every compiled module needs it)."""
    return [p for suffix in EXTENSION_SUFFIXES for p in package.glob(f"{GROUP}__mypyc{suffix}")]


def check(package: Path = PACKAGE) -> list[str]:
    """Why the build under ``package`` is not current: one line per problem (empty: current, or pure)."""
    manifest = package / MANIFEST
    if not manifest.exists():
        found = _runtime(package)
        return [f"{p.relative_to(package.parent)}: a compiled build without {MANIFEST}" for p in found]
    recorded: dict[str, str] = json.loads(manifest.read_text(encoding="utf-8"))["sources"]
    problems = []
    for rel, sha in sorted(recorded.items()):
        src = package.parent / rel
        if not src.exists():
            problems.append(f"{rel}: compiled, but the source is gone")
        elif digest(src) != sha:
            problems.append(f"{rel}: changed since it was compiled")
    return problems


def build_state(package: Path = PACKAGE) -> str:
    """``"compiled (N modules, mypyc)"`` when a current build is in use, else ``"pure Python"``."""
    manifest = package / MANIFEST
    if not manifest.exists() or check(package) or (package == PACKAGE and _SOURCES in sys.meta_path):
        return "pure Python"
    n = len(json.loads(manifest.read_text(encoding="utf-8"))["sources"])
    return f"compiled ({n} modules, mypyc)"


def ensure_current(package: Path = PACKAGE) -> None:
    """Raise ``StaleBuildError`` naming each stale module and the two ways out."""
    problems = check(package)
    if problems:
        lines = "\n  ".join(problems)
        raise StaleBuildError(
            f"the compiled simulator does not match its sources:\n  {lines}\n"
            "run `make native` to rebuild it, or `make pure` to remove it"
        )


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' ``.py`` sources before their extensions."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _NAMES:
            return None
        return importlib.util.spec_from_file_location(fullname, PACKAGE.parent / _NAMES[fullname])


_NAMES = {m.removesuffix(".py").replace("/", "."): m for m in MODULES}
_SOURCES = _SourcesFirst()


def use_sources() -> None:
    """Import the compiled modules from their sources from now on (what ``RWB_PURE=1`` does)."""
    if _SOURCES not in sys.meta_path:
        sys.meta_path.insert(0, _SOURCES)


def start() -> None:
    """What ``import sim`` does: sources with ``RWB_PURE=1``, else refuse a stale build."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        use_sources()
    else:
        ensure_current()
