"""The async forms under trio, through anyio: sleep, clock and the attempt bound are anyio's."""

from __future__ import annotations

import anyio
import trio

import resilience


def test_the_async_decorator_retries_under_trio() -> None:
    calls: list[float] = []

    @resilience.retry(on=OSError, attempts=3, wait=0.01)
    async def fetch() -> str:
        calls.append(trio.current_time())
        await trio.sleep(0)
        if len(calls) < 3:
            raise OSError("down")
        return "ok"

    assert anyio.run(fetch, backend="trio") == "ok"
    assert len(calls) == 3 and calls[2] - calls[0] >= 0.02  # it waited on trio's clock


def test_the_attempt_timeout_cancels_a_hanging_attempt_under_trio() -> None:
    started: list[int] = []

    @resilience.retry(on=TimeoutError, attempts=3, attempt_timeout=0.05, wait=0.0)
    async def hangs_twice() -> str:
        started.append(1)
        if len(started) < 3:
            await trio.sleep_forever()
        return "third"

    assert anyio.run(hangs_twice, backend="trio") == "third" and len(started) == 3


def test_a_give_up_under_trio_reraises_the_timeout_with_a_note() -> None:
    @resilience.retry(on=TimeoutError, attempts=2, attempt_timeout=0.02, wait=0.0)
    async def hangs() -> None:
        await trio.sleep_forever()

    async def main() -> BaseException | None:
        try:
            await hangs()
        except TimeoutError as exc:
            return exc
        return None

    error = anyio.run(main, backend="trio")
    assert isinstance(error, TimeoutError) and "2 attempt(s)" in error.__notes__[0]


def test_external_cancellation_under_trio_is_not_retried() -> None:
    started: list[int] = []

    @resilience.retry(on=lambda exc: True, attempts=5, wait=0.0)
    async def slow() -> None:
        started.append(1)
        await trio.sleep_forever()

    async def main() -> None:
        with trio.move_on_after(0.05):
            await slow()

    anyio.run(main, backend="trio")
    assert started == [1]
