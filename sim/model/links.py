"""Network links at run time: one-way latency and message loss, partitions and latency spikes."""

from __future__ import annotations

from typing import Final

import numpy as np

from sim.scenario.spec import Link

__all__ = ["LOST", "LinkRT"]

LOST: Final = -1.0


class LinkRT:
    """``delay()`` gives a message's one-way delay, or ``LOST``."""

    __slots__ = ("_latency", "_loss", "_loss_u", "extra", "lost", "messages", "name", "partitioned")

    def __init__(self, name: str, cfg: Link, latency_gen: np.random.Generator, loss_gen: np.random.Generator):
        from sim.model.streams import BlockRandom

        self.name = name
        self._latency = cfg.latency.sampler(latency_gen)
        self._loss = cfg.loss
        self._loss_u = BlockRandom(lambda n: loss_gen.random(n))
        self.partitioned = 0  # active partition faults
        self.extra = 0.0  # added latency from active latency spikes
        self.lost = 0
        self.messages = 0

    def delay(self) -> float:
        self.messages += 1
        if self.partitioned or (self._loss and self._loss_u() < self._loss):
            self.lost += 1
            return LOST
        return self._latency() + self.extra
