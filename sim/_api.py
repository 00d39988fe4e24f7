"""The simulator's public API as text, in the library's snapshot format (``resilience._api``).

``python -m sim._api`` prints it; the committed copy is ``tests/sim/api_snapshot.txt``
and ``make api-snapshot`` regenerates it when a change is intended. Module paths
inside ``sim`` are not part of the contract; these names are.
"""

from __future__ import annotations

import sys

from resilience._api import render as _render

__all__ = ["PACKAGES", "render"]

PACKAGES: tuple[str, ...] = ("sim", "sim.cli", "sim.export", "sim.testing")
"""The modules whose ``__all__`` is the simulator's public API."""

HEADER = "# The public API of sim. Regenerate with `make api-snapshot`; review every change."


def render(packages: tuple[str, ...] = PACKAGES) -> str:
    """The snapshot text for ``packages``."""
    _, body = _render(packages).split("\n", 1)
    return f"{HEADER}\n{body}"


if __name__ == "__main__":
    sys.stdout.write(render())
