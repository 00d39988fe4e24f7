"""What a retrying loop tells its hooks: one ``RetryDetails`` per retry and per give-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..hooks import report_hook_error
from ..steps import GiveUp, Wait

if TYPE_CHECKING:
    from .loop import _Loop

__all__ = ["RetryDetails", "RetryHook", "report_give_up", "report_retry"]


@dataclass(frozen=True, slots=True)
class RetryDetails:
    """One retry (``gave_up`` False) or the give-up of a call.

    ``name`` is the function's qualified name, ``attempt`` the number of the
    attempt that just ended, ``delay`` the wait before the next one (0 on
    give-up), ``elapsed`` seconds since the call began, ``cause`` the
    exception the attempt raised (None when it returned ``result``, a value
    classified as a failure), ``reason`` why the wait was chosen
    (``backoff``, ``retry_after`` …) or why the call gave up.
    """

    name: str
    attempt: int
    delay: float
    elapsed: float
    cause: BaseException | None
    result: Any
    reason: str
    gave_up: bool


class RetryHook(Protocol):
    """Called with every retry and give-up of the calls it is installed for."""

    def __call__(self, details: RetryDetails) -> None: ...


def _notify(hooks: tuple[RetryHook, ...], source: str, details: RetryDetails) -> None:
    for hook in hooks:
        try:
            hook(details)
        except Exception as exc:
            report_hook_error(source, hook, exc)


def report_retry(hooks: tuple[RetryHook, ...], loop: _Loop, step: Wait, cause: BaseException | None) -> None:
    """Tell ``hooks`` that ``loop`` waits ``step.delay`` before its next attempt."""
    ex = loop.execution
    result = None if cause is not None else loop.result
    details = RetryDetails(
        loop.name, ex.attempts, step.delay, loop.elapsed(), cause, result, step.cause, False
    )
    _notify(hooks, loop.name, details)


def report_give_up(
    hooks: tuple[RetryHook, ...], loop: _Loop, step: GiveUp, cause: BaseException | None
) -> None:
    """Tell ``hooks`` that ``loop`` gave up at ``step``."""
    ex = loop.execution
    result = None if cause is not None else loop.result
    details = RetryDetails(
        loop.name, ex.attempts, 0.0, loop.elapsed(), cause, result, step.reason.value, True
    )
    _notify(hooks, loop.name, details)
