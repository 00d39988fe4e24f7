"""The plugin is loaded by every pytest run of an environment that has the package: it must not need the
simulator's extras (numpy, simpy, pandas) until a test asks for a simulation."""

from __future__ import annotations

import subprocess
import sys

BLOCK = "import sys\nfor m in ('numpy', 'simpy', 'pandas', 'scipy'):\n    sys.modules[m] = None\n"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=60)


def test_plugin_and_package_import_without_the_sim_extras() -> None:
    done = _python("import sim, sim.pytest_plugin\nprint(sorted(sim.__all__)[:2])")
    assert done.returncode == 0, done.stderr
    assert "AdaptiveLifo" in done.stdout


def test_a_simulation_without_the_extras_fails_when_asked_for() -> None:
    """The negative control: the blocked modules really are unavailable to the child process."""
    done = _python("import sim\nsim.run")
    assert done.returncode != 0
    assert "numpy" in done.stderr or "simpy" in done.stderr
