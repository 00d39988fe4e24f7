"""Clocks: the time a driver passes into the decision objects."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "MonotonicClock", "SystemWallClock", "WallClock"]


class Clock(Protocol):
    """Monotonic seconds; only differences are meaningful."""

    def now(self) -> float: ...


class WallClock(Protocol):
    """Seconds since the Unix epoch, for timestamps in records."""

    def wall(self) -> float: ...


class MonotonicClock:
    """``time.monotonic`` as a Clock."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()


class SystemWallClock:
    """``time.time`` as a WallClock."""

    __slots__ = ()

    def wall(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told; ``sleep`` advances it (testing mode)."""

    __slots__ = ("_epoch", "_now", "sleeps")

    def __init__(self, start: float = 0.0, *, epoch: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._epoch = epoch
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._epoch + self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance(seconds={seconds!r}): must be >= 0")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the wait and advance time instead of blocking."""
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        """Asyncio testing mode: advance time, yield once to the loop."""
        import asyncio

        self.sleep(seconds)
        await asyncio.sleep(0)
