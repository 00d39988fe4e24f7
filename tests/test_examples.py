"""The shipped examples run and show what they claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_library_demo_retries_twice_then_succeeds() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "library_demo.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines()[0] == "result: ok"
    assert out.count(" wait ") == 2 and "connection_refused" in out
