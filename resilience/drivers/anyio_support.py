"""The async drivers under trio (or any event loop other than asyncio), through anyio.

Imported only when no asyncio loop is running; anyio is optional. Without it
the async forms raise ``RuntimeError`` outside asyncio.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

__all__ = ["AnyioBound", "running_clock", "running_sleep"]

_NEEDS = "resilience's async forms need a running asyncio loop, or anyio installed (for trio)"


def _anyio() -> Any:
    try:
        import anyio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(_NEEDS) from exc
    return anyio


class AnyioBound:
    """An attempt's timeout as an anyio cancel scope; ``expired()`` tells whether it fired."""

    __slots__ = ("_scope",)

    def __init__(self, timeout: float | None) -> None:
        anyio = _anyio()
        deadline = math.inf if timeout is None else anyio.current_time() + timeout
        self._scope = anyio.CancelScope(deadline=deadline)

    async def __aenter__(self) -> AnyioBound:
        self._scope.__enter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        swallowed = bool(self._scope.__exit__(exc_type, exc, tb))
        if swallowed and self._scope.cancelled_caught:
            raise TimeoutError("attempt timed out") from exc
        return swallowed

    def expired(self) -> bool:
        return bool(self._scope.cancelled_caught)


def running_clock() -> Callable[[], float]:
    """The running event loop's clock: asyncio's ``loop.time``, else anyio's ``current_time``."""
    import asyncio

    try:
        return asyncio.get_running_loop().time
    except RuntimeError:
        return _anyio().current_time  # type: ignore[no-any-return]


def running_sleep() -> Callable[[float], Awaitable[object]]:
    """``asyncio.sleep`` on asyncio, ``anyio.sleep`` elsewhere."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _anyio().sleep  # type: ignore[no-any-return]
    return asyncio.sleep
