"""The compiled build (``make native``) is the same simulator: every listed module runs compiled, and
every shipped scenario gives the same summary and series as the sources give (``RWB_PURE=1``, in
another process). Run by ``make native-test``, which builds it first."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from sim import native

pytestmark = pytest.mark.native
ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = ("grids", "spaces")  # sweep and search spaces, not single runs


def scenario_files() -> list[str]:
    files = sorted((ROOT / "scenarios").rglob("*.toml"))
    return [str(f.relative_to(ROOT)) for f in files if f.parent.name not in SKIP_DIRS]


def digests() -> dict[str, str]:
    """SHA-256 of each scenario's JSON summary and series at seed 1 (chapter 5 at 1/50 scale, 90 s:
    the flood, the stall and the defences' reactions included)."""
    from sim import load_scenario, run
    from sim.experiments.chapter5 import scaled

    out = {}
    for rel in scenario_files():
        sc = load_scenario(ROOT / rel)
        if "chapter5" in rel:
            sc = dataclasses.replace(scaled(sc, 0.02), duration=90.0)
        r = run(sc, 1)
        out[rel] = hashlib.sha256(r.to_json().encode() + r.series.encode()).hexdigest()
    return out


def _files(pure: bool) -> dict[str, str]:
    code = (
        "import importlib, json; from sim import native; "
        "print(json.dumps({m: importlib.import_module(m.removesuffix('.py').replace('/', '.')).__file__ "
        "for m in native.MODULES}))"
    )
    env = dict(os.environ, **{native.PURE_ENV: "1" if pure else "0"})
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    files: dict[str, str] = json.loads(done.stdout)
    return files


def test_the_build_is_current_and_every_listed_module_runs_compiled() -> None:
    assert native.check() == []
    assert native.build_state() == f"compiled ({len(native.MODULES)} modules, mypyc)"
    for rel, file in _files(pure=False).items():
        assert file.endswith(tuple(EXTENSION_SUFFIXES)), f"{rel} runs from {file}"


def test_rwb_pure_runs_every_listed_module_from_its_source() -> None:
    for rel, file in _files(pure=True).items():
        assert file == str(ROOT / rel)


def test_every_shipped_scenario_gives_the_same_results_in_both_builds() -> None:
    assert str(importlib.import_module("sim.graph.tier").__file__).endswith(tuple(EXTENSION_SUFFIXES))
    env = dict(os.environ, **{native.PURE_ENV: "1"})
    other = subprocess.Popen(  # the sources, on the other core meanwhile
        [sys.executable, __file__],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    compiled = digests()
    out, err = other.communicate()
    assert other.returncode == 0, err
    pure = json.loads(out)
    assert len(compiled) >= 30
    assert {k for k in compiled if compiled[k] != pure[k]} == set()
    assert compiled.keys() == pure.keys()


if __name__ == "__main__":  # the other build's digests, for the comparison above
    print(json.dumps(digests()))
