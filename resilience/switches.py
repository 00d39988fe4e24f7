"""The front door's ambient settings: the global on/off switch and testing mode.

Only the front-door forms (``retry``, ``attempts``, the retrying callers,
``breaker``) and the drivers' and gates' default clock and sleep read these;
the core is told ``now`` and never looks here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from .clock import ManualClock

__all__ = [
    "DefaultClock",
    "Mode",
    "current",
    "default_async_sleep",
    "default_sleep",
    "is_active",
    "set_active",
    "set_mode",
]


@dataclass(frozen=True, slots=True)
class Mode:
    """What the front door runs under: ``active`` (retrying at all) and testing mode.

    In testing mode every wait advances ``clock`` instead of sleeping and each
    call makes ``attempts`` attempts (at most that many when ``cap``).
    """

    active: bool = True
    testing: bool = False
    attempts: int = 1
    cap: bool = False
    clock: ManualClock | None = None

    def attempts_for(self, configured: int) -> int:
        """How many attempts a call configured with ``configured`` makes under this mode."""
        if not self.testing:
            return configured
        return min(configured, self.attempts) if self.cap else self.attempts


_mode = Mode()


def current() -> Mode:
    """The mode in force."""
    return _mode


def set_mode(mode: Mode) -> None:
    """Put ``mode`` in force (``set_active`` and ``testing.set_testing`` build on this)."""
    global _mode
    _mode = mode


def set_active(active: bool) -> None:
    """Switch retrying on or off everywhere: when off, the front-door forms call once, no breaker."""
    m = _mode
    set_mode(Mode(bool(active), m.testing, m.attempts, m.cap, m.clock))


def is_active() -> bool:
    """Whether retrying is on (``set_active``)."""
    return _mode.active


class DefaultClock:
    """The clock of drivers and gates built without one: testing mode's clock when it is on, else
    ``time.monotonic``. Read at every call, so turning testing mode on reaches existing drivers."""

    __slots__ = ()

    def now(self) -> float:
        clock = _mode.clock
        return clock.now() if clock is not None else time.monotonic()


def default_sleep(seconds: float) -> None:
    """Sleep, or in testing mode advance its clock instead (no real waiting)."""
    clock = _mode.clock
    if clock is not None:
        clock.sleep(seconds)
    else:
        time.sleep(seconds)


async def default_async_sleep(seconds: float) -> None:
    """``asyncio.sleep``, or in testing mode advance its clock instead (yielding once)."""
    clock = _mode.clock
    if clock is not None:
        await clock.async_sleep(seconds)
    else:
        await asyncio.sleep(seconds)
