"""Time ``rwb export scenarios/retry_storm_resilient.toml --out DIR --preview`` (target: < 10 s).

Simulations, promtool backtest, backfill, Prometheus start-up and the preview page included; prints
wall-clock and CPU seconds (this process and its children).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "sim.cli", "export", "scenarios/retry_storm_resilient.toml",
               "--out", out, "--preview"]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    print(f"rwb export --preview (retry_storm_resilient): {wall:.1f} s wall, "
          f"{usage.ru_utime + usage.ru_stime:.1f} s CPU (target < 10 s wall)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
