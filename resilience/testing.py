"""Testing mode: no real waiting, capped attempts, a manual clock the front door picks up.

``set_testing(True, attempts=10, cap=True)`` makes every front-door call
(``retry``, ``attempts``, the callers, ``breaker``) run on a ``ManualClock``:
each wait advances that clock instead of sleeping, so a test sees the
backoff in ``clock.sleeps`` and ``clock.now()`` without waiting for it.
Nothing is monkeypatched. The default breaker registry starts afresh.
The pytest fixture ``resilience_testing`` (``resilience.pytest_plugin``)
turns it on for one test and hands over the clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .breaking import reset_default_registry
from .clock import ManualClock
from .switches import Mode, current, set_mode

__all__ = ["ManualClock", "is_testing", "set_testing", "testing_clock", "testing_mode"]


def set_testing(
    testing: bool, *, attempts: int = 1, cap: bool = False, clock: ManualClock | None = None
) -> ManualClock | None:
    """Turn testing mode on or off; returns the clock in use (a fresh ``ManualClock`` unless given).

    ``attempts`` is how many attempts each call makes in testing mode; with
    ``cap`` it is an upper bound on the configured number instead.
    """
    if attempts < 1:
        raise ValueError(f"set_testing.attempts={attempts!r}: must be >= 1")
    m = current()
    used = (clock if clock is not None else ManualClock()) if testing else None
    set_mode(Mode(m.active, bool(testing), attempts, cap, used))
    reset_default_registry()
    return used


def is_testing() -> bool:
    """Whether testing mode is on."""
    return current().testing


def testing_clock() -> ManualClock | None:
    """The testing mode's clock (None when testing mode is off)."""
    m = current()
    return m.clock if m.testing else None


@contextlib.contextmanager
def testing_mode(
    *, attempts: int = 1, cap: bool = False, clock: ManualClock | None = None
) -> Iterator[ManualClock]:
    """Testing mode inside the block; the previous mode comes back after it."""
    before = current()
    used = set_testing(True, attempts=attempts, cap=cap, clock=clock)
    assert used is not None
    try:
        yield used
    finally:
        set_mode(before)
        reset_default_registry()
