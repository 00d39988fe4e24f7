"""Build or remove the compiled simulator (``make native`` / ``make pure``).

    python scripts/native.py build    # compile, then install: what `make native` does
    python scripts/native.py compile  # compile sim.native.MODULES into build/native/lib only
    python scripts/native.py install  # put the compiled modules and their manifest next to the sources
    python scripts/native.py clean    # remove the compiled modules and the manifest

The build type-checks the modules (mypyc needs the same types ``mypy --strict`` sees), generates C
into ``build/native``, and compiles it with the system's C compiler into ``build/native/lib``,
leaving the package untouched (so tests may run meanwhile, as CI does); ``install`` then puts the
extensions next to their sources. The manifest records each source's SHA-256 as read for
compiling, so ``import sim`` refuses a build that no longer matches (``sim.native.check``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from importlib.machinery import EXTENSION_SUFFIXES
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["RWB_PURE"] = "1"  # `import sim` would refuse the stale build this script is here to replace

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


STAGE = ROOT / "build" / "native" / "lib"  # compiled modules and their manifest before ``install``


def compile_stage() -> None:
    """Compile ``MODULES`` into ``STAGE`` with the manifest of the sources compiled (package untouched)."""
    from mypyc.build import mypycify
    from setuptools import setup

    shutil.rmtree(STAGE, ignore_errors=True)
    sources = {m: digest(ROOT / m) for m in MODULES}  # what is compiled: read before, not after
    t0 = time.perf_counter()
    print(
        f"native: compiling {len(MODULES)} modules with mypyc {version('mypy')} (a few minutes)", flush=True
    )
    # its own mypy cache: `make typecheck` may be using .mypy_cache meanwhile (CI runs both at once)
    paths = ["--cache-dir=build/native/mypy_cache", *MODULES]
    ext = mypycify(paths, opt_level="3", group_name=f"sim.{GROUP}", target_dir="build/native")
    setup(
        name="resilience-workbench-native",
        ext_modules=ext,
        script_args=["-q", "build_ext", "--build-lib", str(STAGE), "--build-temp", "build/native/temp"],
    )
    manifest = {
        "mypy": version("mypy"),
        "python": platform.python_version(),
        "sources": sources,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (STAGE / PACKAGE.name / MANIFEST).write_text(text, encoding="utf-8")
    print(f"native: {len(MODULES)} modules compiled in {time.perf_counter() - t0:.0f} s", flush=True)


def install() -> int:
    """Replace any build in the package with the compiled stage; the number of files installed."""
    staged = STAGE / PACKAGE.name / MANIFEST
    if not staged.exists():
        raise SystemExit(f"native: nothing compiled in {STAGE.relative_to(ROOT)} (run `compile` first)")
    clean()
    files = [p for p in STAGE.rglob("*") if p.is_file() and p != staged]
    for path in files:
        target = ROOT / path.relative_to(STAGE)
        shutil.copy2(path, target)
    shutil.copy(staged, PACKAGE / MANIFEST)  # last (and dated now): the build counts once complete
    return len(files) + 1


def main(argv: list[str]) -> int:
    if argv == ["build"]:
        compile_stage()
        install()
        return 0
    if argv == ["compile"]:
        compile_stage()
        return 0
    if argv == ["install"]:
        print(f"native: installed {install()} files")
        return 0
    if argv == ["clean"]:
        print(f"native: removed {clean()} files")
        return 0
    print("usage: python scripts/native.py build|compile|install|clean", file=sys.stderr)
    return 2


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
