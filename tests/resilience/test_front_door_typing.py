"""Every option is typed: mypy rejects a misspelt option of the front door and of ``resilient``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout whose ``resilience`` is checked

BAD = """
import resilience
from resilience.core import Pipeline
from resilience.drivers import SyncDriver, resilient

@resilience.retry(on=ValueError, atempts=3)
def f() -> int:
    return 1

resilience.RetryingCaller(on=OSError, timout=3.0)
resilient(Pipeline(), pass_timout="timeout")
SyncDriver(Pipeline()).options(idempotnt=False)
"""

GOOD = """
import resilience
from resilience.core import Pipeline
from resilience.drivers import SyncDriver, resilient

@resilience.retry(on=ValueError, attempts=3, timeout=45.0, wait=0.5)
def f() -> int:
    return 1

x: int = f()
resilience.RetryingCaller(on=(OSError, KeyError), timeout=3.0)
resilient(Pipeline(), pass_timeout="timeout")
SyncDriver(Pipeline()).options(idempotent=False)
"""


def test_mypy_rejects_misspelt_options_and_accepts_the_right_ones(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "good.py").write_text(GOOD)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "bad.py", "good.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    report = out.stdout
    assert out.returncode == 1, report
    for name in ("pass_timout", "idempotnt", "atempts", "timout"):  # the drivers' first
        assert f'Unexpected keyword argument "{name}"' in report, report
    assert "good.py" not in report, report  # the control file type-checks
