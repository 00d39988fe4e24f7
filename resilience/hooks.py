"""Calling user hooks (listeners) without letting their errors change a decision.

A hook that raises is isolated: the error is counted per component name and
logged once per (hook, exception type) per process, at WARNING, and the
caller's decision stands. ``listener_errors()`` feeds
``resilience_listener_errors_total``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["listener_errors", "notify", "report_hook_error"]

_log = logging.getLogger("resilience")
_lock = threading.Lock()
_errors: dict[str, int] = {}
_logged: set[tuple[int, type[BaseException]]] = set()


def report_hook_error(source: str, hook: Callable[..., Any], exc: Exception) -> None:
    """Count ``exc`` raised by ``hook`` of component ``source``; log the first of its kind."""
    key = (id(hook), type(exc))
    with _lock:
        _errors[source] = _errors.get(source, 0) + 1
        first = key not in _logged
        if first:
            _logged.add(key)
    if first:
        _log.warning(
            "listener %r of %r raised %s: %s (isolated; later errors of this kind are only counted)",
            hook,
            source,
            type(exc).__name__,
            exc,
            extra={"resilience_source": source},
        )


def notify(hooks: Iterable[Callable[..., Any]], source: str, *args: Any) -> None:
    """Call every hook with ``(source, *args)``; an Exception from one is isolated and reported."""
    for hook in hooks:
        try:
            hook(source, *args)
        except Exception as exc:
            report_hook_error(source, hook, exc)


def listener_errors() -> dict[str, int]:
    """Hook errors so far in this process, by component name."""
    with _lock:
        return dict(_errors)
