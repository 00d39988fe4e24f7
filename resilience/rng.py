"""The random source every policy takes from outside."""

from __future__ import annotations

from typing import Protocol

__all__ = ["RandomSource"]


class RandomSource(Protocol):
    """Anything with ``random() -> float in [0, 1)``, e.g. ``random.Random(seed)``."""

    def random(self) -> float: ...
