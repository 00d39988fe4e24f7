"""Helpers for concurrency tests: a no-op lock for negative controls and a thread hammer.

``hammer(fn, threads, calls)`` runs ``fn(thread_index, calls)`` in ``threads``
threads released together by a barrier, with ``sys.setswitchinterval(1e-6)``
so the interpreter switches threads as often as it can; exceptions raised in a
thread are re-raised in the caller. Swap a shared object's ``_lock`` for
``NoOpLock()`` to show that a test can see the race it guards against.
``breaker_violations`` lists the order-independent invariants a circuit
breaker broke after such a run (callers keep a ``BreakerTally`` per thread).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from resilience.breaker import ALLOWED_TRANSITIONS, BreakerState, CircuitBreaker

__all__ = ["BreakerTally", "NoOpLock", "breaker_violations", "hammer", "swap_lock", "timed"]

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


@dataclass
class BreakerTally:
    """What one thread saw: permissions granted and refused, outcomes reported by kind.

    ``kinds`` keys: successful, failed, slow_successful, slow_failed, ignored, released.
    """

    granted: int = 0
    denied: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


def breaker_violations(
    breaker: CircuitBreaker,
    tallies: list[BreakerTally],
    transitions: list[tuple[BreakerState, BreakerState]],
    attempts: int,
) -> list[str]:
    """Every order-independent breaker invariant that does not hold (empty when all do).

    ``transitions`` are the (from, to) pairs a state listener saw; ``attempts``
    is the number of ``try_acquire`` calls made. Every permission must have
    been followed by ``record`` or ``release``, and the breaker not disabled.
    """
    broken: list[str] = []
    m = breaker.metrics()
    granted = sum(t.granted for t in tallies)
    denied = sum(t.denied for t in tallies)
    kinds: Counter[str] = sum((t.kinds for t in tallies), Counter())
    if granted + denied != attempts:
        broken.append(f"tally {granted}+{denied} != {attempts} attempts")
    if m.not_permitted != denied:
        broken.append(f"not_permitted {m.not_permitted} != {denied} refusals")
    if m.recorded + m.ignored + m.released != granted:
        broken.append(
            f"recorded+ignored+released {m.recorded + m.ignored + m.released} != {granted} permitted"
        )
    counted = m.calls_by_kind() | {"released": m.released}
    for kind, n in kinds.items():
        if counted[kind] != n:
            broken.append(f"{kind}: breaker counted {counted[kind]}, callers saw {n}")
    if not breaker.window_check():
        broken.append("window running totals != sum over its buckets/slots")
    if not (0 <= m.window_failures <= m.window_calls and 0 <= m.window_slow <= m.window_calls):
        broken.append(f"window totals out of bounds: {m}")
    if not (0.0 <= m.failure_rate <= 1.0 and 0.0 <= m.slow_call_rate <= 1.0):
        broken.append(f"rates out of [0, 1]: {m.failure_rate}, {m.slow_call_rate}")
    bad = [p for p in transitions if p not in ALLOWED_TRANSITIONS]
    if bad:
        broken.append(f"disallowed transitions {bad[:5]} ({len(bad)} in all)")
    # one walk from CLOSED: entries - exits is +1 for the current state and -1 for CLOSED if it was left
    for s in BreakerState:
        ins = sum(n for (a, b), n in m.transitions.items() if b is s)
        outs = sum(n for (a, b), n in m.transitions.items() if a is s)
        expected = int(s is m.state) - int(s is BreakerState.CLOSED)
        if ins - outs != expected:
            broken.append(f"{s.value}: {ins} entries - {outs} exits != {expected}")
    if Counter(transitions) != Counter(m.transitions):
        broken.append("the listener saw other transitions than the breaker counted")
    return broken
