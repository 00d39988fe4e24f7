"""Helpers for concurrency tests: a no-op lock for negative controls and a thread hammer.

``hammer(fn, threads, calls)`` runs ``fn(thread_index, calls)`` in ``threads``
threads released together by a barrier, with ``sys.setswitchinterval(1e-6)``
so the interpreter switches threads as often as it can; exceptions raised in a
thread are re-raised in the caller. Swap a shared object's ``_lock`` for
``NoOpLock()`` to show that a test can see the race it guards against.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["NoOpLock", "hammer", "swap_lock", "timed"]

T = TypeVar("T")


class NoOpLock:
    """Looks like ``threading.Lock`` and locks nothing."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        return None

    def locked(self) -> bool:
        return False

    def __enter__(self) -> bool:
        return True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def swap_lock(obj: T, lock: Any = None, attr: str = "_lock") -> T:
    """Replace ``obj.<attr>`` by ``lock`` (a ``NoOpLock`` by default); returns ``obj``."""
    setattr(obj, attr, NoOpLock() if lock is None else lock)
    return obj


def hammer(fn: Callable[[int, int], T], threads: int = 16, calls: int = 10_000) -> list[T]:
    """Run ``fn(i, calls)`` for i in range(threads) concurrently; returns the results in thread order."""
    results: list[Any] = [None] * threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i, calls)
        except BaseException as e:  # re-raised in the caller
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(old)
    if errors:
        raise errors[0]
    return results


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` took on the monotonic clock."""
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0
