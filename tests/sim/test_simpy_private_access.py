"""SimPy's private state (``env._queue``, ``_now``, ``_eid``) is touched in one module only."""

from __future__ import annotations

import re
from pathlib import Path

import sim

PRIVATE = re.compile(r"\benv\._(queue|eid|now)\b")
ALLOWED = {"model/clock.py", "stepper.py"}  # documented there: what it buys, measured against the public form


def private_uses(root: Path) -> dict[str, list[int]]:
    """Module (relative to ``root``) -> the lines that use SimPy's private state."""
    found: dict[str, list[int]] = {}
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        hits = [n for n, line in enumerate(lines, start=1) if PRIVATE.search(line)]
        if hits:
            found[path.relative_to(root).as_posix()] = hits
    return found


def test_only_the_clock_module_reaches_into_simpy() -> None:
    found = private_uses(Path(sim.__file__).parent)
    assert set(found) <= ALLOWED, {k: v for k, v in found.items() if k not in ALLOWED}
    assert found, "the clock module's direct scheduling is gone: drop ALLOWED and the README's note"


def test_the_scan_sees_a_private_use_outside_the_clock(tmp_path: Path) -> None:
    """Negative control: a use in another module (as edge.py had) is reported with its line."""
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "edge.py").write_text(
        "x = 1\nheappush(env._queue, (self.env._now + d, 1, next(env._eid), v))\n", encoding="utf-8"
    )
    (tmp_path / "model.py").write_text("self._now = 0.0  # an attribute of its own\n", encoding="utf-8")
    assert private_uses(tmp_path) == {"graph/edge.py": [2]}
