"""``idempotent_call``: run a function at most once per idempotency key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..clock import Clock, MonotonicClock
from .states import KeyState
from .store import IdempotencyStore, InProgress, KeyConflict, New, Replay

__all__ = [
    "IdempotencyError",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "ReplayedFailure",
    "async_idempotent_call",
    "idempotent_call",
]

T = TypeVar("T")


class IdempotencyError(Exception):
    """A duplicate that must not execute; ``status`` is the HTTP answer a server would give."""

    status: int = 409

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"idempotency key {key!r}: {message}")
        self.key = key


class IdempotencyInProgress(IdempotencyError):
    """The key is still pending (409); retry after ``retry_after`` seconds."""

    status = 409

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(key, f"in progress, retry after {retry_after:g}s")
        self.retry_after = retry_after


class IdempotencyKeyReused(IdempotencyError):
    """The key was used with a different request fingerprint (422)."""

    status = 422

    def __init__(self, key: str) -> None:
        super().__init__(key, "reused with a different request")


class ReplayedFailure(IdempotencyError):
    """The key's one execution failed; ``error`` is what it raised (not re-raised itself)."""

    status = 200  # the stored answer is replayed as it was

    def __init__(self, key: str, error: Any) -> None:
        super().__init__(key, f"replayed failure: {error!r}")
        self.error = error


def _settle(store: IdempotencyStore, key: str, answer: New | InProgress | Replay | KeyConflict) -> Any:
    if isinstance(answer, InProgress):
        raise IdempotencyInProgress(key, answer.retry_after)
    if isinstance(answer, KeyConflict):
        raise IdempotencyKeyReused(key)
    assert isinstance(answer, Replay)
    if answer.record.state is KeyState.FAILED:
        raise ReplayedFailure(key, answer.record.result)
    return answer.record.result


def _settle_error(
    store: IdempotencyStore, key: str, token: int, now: float, exc: Exception, release: bool
) -> None:
    if release:
        store.release(key, token, now)
    else:
        store.fail(key, token, now, exc)


def idempotent_call(
    store: IdempotencyStore,
    key: str,
    fn: Callable[[], T],
    *,
    clock: Clock | None = None,
    fingerprint: str | None = None,
    release_on_error: bool = False,
) -> T:
    """Run ``fn`` if ``key`` is new; otherwise replay, or raise an :class:`IdempotencyError`.

    An :class:`Exception` from ``fn`` is stored (the key becomes ``failed`` and
    replays it as :class:`ReplayedFailure`) unless ``release_on_error``, which
    forgets the key so that a retry executes again. An interruption
    (``KeyboardInterrupt``, ``SystemExit``, cancellation: any other
    ``BaseException``) leaves the outcome unknown: ``fn`` may have had its
    effect, so the key stays pending until ``pending_ttl`` and duplicates get
    :class:`IdempotencyInProgress`.
    """
    clock = clock or MonotonicClock()
    answer = store.begin(key, clock.now(), fingerprint)
    if not isinstance(answer, New):
        result: T = _settle(store, key, answer)
        return result
    try:
        value = fn()
    except Exception as exc:
        _settle_error(store, key, answer.token, clock.now(), exc, release_on_error)
        raise
    store.succeed(key, answer.token, clock.now(), value)
    return value


async def async_idempotent_call(
    store: IdempotencyStore,
    key: str,
    fn: Callable[[], Awaitable[T]],
    *,
    clock: Clock | None = None,
    fingerprint: str | None = None,
    release_on_error: bool = False,
) -> T:
    """The asyncio form of :func:`idempotent_call`; cancellation leaves the key pending."""
    clock = clock or MonotonicClock()
    answer = store.begin(key, clock.now(), fingerprint)
    if not isinstance(answer, New):
        result: T = _settle(store, key, answer)
        return result
    try:
        value = await fn()
    except Exception as exc:
        _settle_error(store, key, answer.token, clock.now(), exc, release_on_error)
        raise
    store.succeed(key, answer.token, clock.now(), value)
    return value
