"""Racing begin() calls from 16 threads: exactly one New per key; a no-op lock breaks it.

CPython rarely switches threads inside a few bytecodes, so ``now`` is a number
that yields the GIL when added to (the store computes the expiry between its
lookup and its insert). The store itself is unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from concurrency import hammer, swap_lock

from resilience.idempotency import IdempotencyStore, InProgress, New

THREADS, KEYS = 16, 60


class Yielding(float):
    def __add__(self, other: Any) -> float:
        time.sleep(0)
        return float(self) + other


def _violations(store: IdempotencyStore) -> list[str]:
    def work(i: int, calls: int) -> list[str]:
        won = []
        for k in range(calls):
            answer = store.begin(f"key-{k}", Yielding(0.0))
            if isinstance(answer, New):
                won.append(answer.key)
            else:
                assert isinstance(answer, InProgress)
        return won

    results: list[list[str]] = hammer(work, THREADS, KEYS)  # type: ignore[assignment]
    winners = [key for won in results for key in won]
    found = []
    duplicated = sorted({k for k in winners if winners.count(k) > 1})
    if duplicated:
        found.append(f"{len(duplicated)} keys executed more than once")
    if len(winners) != KEYS:
        found.append(f"{len(winners)} executions for {KEYS} keys")
    counts = store.counts.snapshot()
    if counts.get("new", 0) + counts.get("in_progress", 0) != THREADS * KEYS:
        found.append(f"counts {counts} do not add up to {THREADS * KEYS} lookups")
    if len(store) != KEYS:
        found.append(f"{len(store)} records for {KEYS} keys")
    return found


def test_exactly_one_new_per_key_under_racing_begin() -> None:
    assert _violations(IdempotencyStore()) == []


def test_negative_control_without_lock_executes_some_key_twice() -> None:
    assert _violations(swap_lock(IdempotencyStore())) != []
