"""The front door in a few lines: a retried function, a shared breaker, testing mode.

    .venv/bin/python examples/front_door.py
"""

from __future__ import annotations

import resilience

answers = iter([ConnectionResetError("reset by peer"), ConnectionRefusedError("refused"), "ok"])


@resilience.retry(on=ConnectionError, attempts=3)
def fetch() -> str:
    answer = next(answers)
    if isinstance(answer, Exception):
        raise answer
    return answer


@resilience.breaker(name="inventory")
def stock(item: str) -> int:
    return 7


def main() -> None:
    with resilience.testing.testing_mode(attempts=3) as clock:  # no real waiting
        print(f"fetch: {fetch()} after waits {[round(s, 3) for s in clock.sleeps]}")
        print(f"stock: {stock('apple')}; breaker {resilience.breaker(name='inventory').state.value}")

    @resilience.retry(on=ValueError, attempts=2, wait=0.0)
    def broken() -> None:
        raise ValueError("bad input")

    try:
        broken()
    except ValueError as exc:
        print(f"gave up: {exc!r}; note: {exc.__notes__[0]}")


if __name__ == "__main__":
    main()
