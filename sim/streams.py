"""Independent random streams keyed by (component, purpose), drawn in blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

__all__ = ["BlockRandom", "Streams", "stable_key"]

BLOCK = 512


def stable_key(*parts: str) -> tuple[int, ...]:
    """A process-independent 128-bit key (four uint32 words) for the given names."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class Streams:
    """Factory of numpy generators: one per (component, purpose), all from one run seed.

    A stream depends only on the seed and its own key, so adding or changing a
    component leaves every other stream untouched.
    """

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed={seed!r}: must be a non-negative integer")
        self.seed = seed

    def generator(self, component: str, purpose: str) -> np.random.Generator:
        seq = np.random.SeedSequence(self.seed, spawn_key=stable_key(component, purpose))
        return np.random.Generator(np.random.PCG64(seq))

    def uniform(self, component: str, purpose: str) -> BlockRandom:
        """A ``random()`` source (for ``resilience`` policies) backed by this stream."""
        holder: list[np.random.Generator] = []

        def draw(n: int) -> np.ndarray:
            if not holder:
                holder.append(self.generator(component, purpose))
            return holder[0].random(n)

        return BlockRandom(draw)


class BlockRandom:
    """Serves floats one at a time from blocks drawn by ``draw(n)``; has ``random()``."""

    __slots__ = ("_buf", "_draw", "_i", "_n")

    def __init__(self, draw: Callable[[int], np.ndarray]) -> None:
        self._draw = draw
        self._buf: list[float] = []
        self._i = 0
        self._n = 0

    def __call__(self) -> float:
        i = self._i
        if i >= self._n:
            self._buf = self._draw(BLOCK).tolist()
            self._n = len(self._buf)
            i = 0
        self._i = i + 1
        return self._buf[i]

    random = __call__
