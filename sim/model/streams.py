"""Independent random streams keyed by (component, purpose), drawn in blocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Final

import numpy as np

__all__ = ["BlockRandom", "Streams", "fast", "stable_key"]

BLOCK: Final = 512


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
    """Serves floats one at a time from blocks drawn by ``draw(n)``; has ``random()``.

    ``random`` is the bound ``__next__`` of an iterator over the blocks: hot
    paths keep it and call it directly (no Python frame per draw).
    """

    __slots__ = ("random",)

    def __init__(self, draw: Callable[[int], np.ndarray]) -> None:
        self.random: Callable[[], float] = chain.from_iterable(_blocks(draw)).__next__

    def __call__(self) -> float:
        return self.random()


def _blocks(draw: Callable[[int], np.ndarray]) -> Iterator[list[float]]:
    while True:
        yield draw(BLOCK).tolist()


def fast(sampler: Callable[[], float]) -> Callable[[], float]:
    """The quickest callable that draws from ``sampler`` (a ``BlockRandom``'s ``random``)."""
    return sampler.random if isinstance(sampler, BlockRandom) else sampler
