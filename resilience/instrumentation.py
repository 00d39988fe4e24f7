"""Observability hooks for the front door: stdlib ``logging`` always, OpenTelemetry when installed.

Hooks receive a ``RetryDetails`` for every retry and every give-up (never
on the success path). Logging writes one record per retry (INFO), per
give-up (WARNING) and per breaker transition, with structured ``extra``
fields (``resilience_name``, ``resilience_attempt``, ``resilience_delay``,
``resilience_reason``, ``resilience_cause``, ``resilience_elapsed``).
With ``opentelemetry-api`` installed, the current span gets an event per
retry (``resilience.retry``) and give-up (``resilience.give_up``) with the
same attributes. ``set_hooks`` replaces the defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .breaker import BreakerState
from .drivers.retry_events import RetryDetails, RetryHook

__all__ = [
    "RetryDetails",
    "RetryHook",
    "current_hooks",
    "log_breaker_transition",
    "log_retry",
    "opentelemetry_hook",
    "set_hooks",
]

logger = logging.getLogger("resilience")
"""Where the logging hook writes."""

_OPENED = (BreakerState.OPEN, BreakerState.FORCED_OPEN)


def _extra(details: RetryDetails) -> dict[str, Any]:
    return {
        "resilience_name": details.name,
        "resilience_attempt": details.attempt,
        "resilience_delay": details.delay,
        "resilience_reason": details.reason,
        "resilience_cause": details.cause,
        "resilience_elapsed": details.elapsed,
    }


def _cause(details: RetryDetails) -> str:
    cause = details.cause
    return "a failed result" if cause is None else f"{type(cause).__qualname__}: {cause}"


def log_retry(details: RetryDetails) -> None:
    """One log record per retry (INFO) and per give-up (WARNING)."""
    if details.gave_up:
        logger.warning(
            "gave up on %s after %d attempt(s) in %.3g s (%s); last: %s",
            details.name,
            details.attempt,
            details.elapsed,
            details.reason,
            _cause(details),
            extra=_extra(details),
        )
    else:
        logger.info(
            "retrying %s in %.3g s after attempt %d failed: %s",
            details.name,
            details.delay,
            details.attempt,
            _cause(details),
            extra=_extra(details),
        )


def log_breaker_transition(name: str, old: BreakerState, new: BreakerState, at: float) -> None:
    """One log record per breaker transition: WARNING when it opens, INFO otherwise."""
    level = logging.WARNING if new in _OPENED else logging.INFO
    logger.log(
        level,
        "breaker %s: %s -> %s",
        name,
        old.value,
        new.value,
        extra={"resilience_breaker": name, "resilience_from": old.value, "resilience_to": new.value},
    )


def opentelemetry_hook(details: RetryDetails) -> None:
    """Add a span event to the current span: ``resilience.retry`` or ``resilience.give_up``."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    cause = details.cause
    span.add_event(
        "resilience.give_up" if details.gave_up else "resilience.retry",
        attributes={
            "resilience.name": details.name,
            "resilience.attempt": details.attempt,
            "resilience.delay": details.delay,
            "resilience.elapsed": details.elapsed,
            "resilience.reason": details.reason,
            "resilience.cause": "result" if cause is None else type(cause).__qualname__,
        },
    )


def _defaults() -> tuple[RetryHook, ...]:
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return (log_retry,)
    return (log_retry, opentelemetry_hook)


_hooks: tuple[RetryHook, ...] | None = None


def current_hooks() -> tuple[RetryHook, ...]:
    """The hooks in force: those given to ``set_hooks``, else logging (and OpenTelemetry if installed)."""
    global _hooks
    hooks = _hooks
    if hooks is None:
        hooks = _hooks = _defaults()
    return hooks


def set_hooks(hooks: Iterable[RetryHook] | None) -> None:
    """Replace the retry hooks (``()``: none; ``None``: the defaults again)."""
    global _hooks
    _hooks = None if hooks is None else tuple(hooks)
