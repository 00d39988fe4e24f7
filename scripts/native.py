"""Build or remove the compiled simulator (``make native`` / ``make pure``).

    python scripts/native.py build   # mypyc-compile sim.native.MODULES in place, write the manifest
    python scripts/native.py clean   # remove the compiled modules and the manifest

The build type-checks the modules (mypyc needs the same types ``mypy --strict`` sees), generates C
into ``build/native``, compiles it with the system's C compiler, and puts the extensions next to
their sources. The manifest records each source's SHA-256, so ``import sim`` refuses a build that
no longer matches (``sim.native.check``).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib.machinery import EXTENSION_SUFFIXES
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.native import GROUP, MANIFEST, MODULES, PACKAGE, digest  # noqa: E402


def clean() -> int:
    """Remove every compiled module of the build and its manifest; the number of files removed."""
    removed = 0
    for suffix in EXTENSION_SUFFIXES:
        for path in [PACKAGE / f"{GROUP}__mypyc{suffix}"] + [
            ROOT / m.replace(".py", suffix) for m in MODULES
        ]:
            if path.exists():
                path.unlink()
                removed += 1
    manifest = PACKAGE / MANIFEST
    if manifest.exists():
        manifest.unlink()
        removed += 1
    return removed


def build() -> None:
    """Compile ``MODULES`` in place and write the manifest (after a clean, so nothing stale is left)."""
    from mypyc.build import mypycify
    from setuptools import setup

    clean()
    sources = {m: digest(ROOT / m) for m in MODULES}  # what is compiled: read before, not after
    t0 = time.perf_counter()
    print(
        f"native: compiling {len(MODULES)} modules with mypyc {version('mypy')} (a few minutes)", flush=True
    )
    ext = mypycify(list(MODULES), opt_level="3", group_name=f"sim.{GROUP}", target_dir="build/native")
    setup(
        name="resilience-workbench-native",
        ext_modules=ext,
        script_args=["-q", "build_ext", "--inplace", "--build-temp", "build/native/temp"],
    )
    manifest = {
        "mypy": version("mypy"),
        "python": platform.python_version(),
        "sources": sources,
    }
    (PACKAGE / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"native: {len(MODULES)} modules compiled in {time.perf_counter() - t0:.0f} s", flush=True)


def main(argv: list[str]) -> int:
    if argv == ["build"]:
        build()
        return 0
    if argv == ["clean"]:
        print(f"native: removed {clean()} files")
        return 0
    print("usage: python scripts/native.py build|clean", file=sys.stderr)
    return 2


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
