"""Error classification: concrete evidence in, outcome kind and retryability out."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._config import Config, rule
from .outcome import CANCELLED, Outcome, OutcomeKind, TimeoutPhase

__all__ = ["Classifier", "ClassifierConfig", "parse_retry_after"]

_DELTA_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NEVER_RETRIED = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


def _statuses(v: tuple[int, ...]) -> bool:
    return all(isinstance(s, int) and 100 <= s <= 599 for s in v)


def _sqlstates(v: tuple[str, ...]) -> bool:
    return all(isinstance(s, str) and len(s) in (2, 5) and s.isascii() and s.isalnum() for s in v)


@dataclass(frozen=True, slots=True)
class ClassifierConfig(Config):
    """Which evidence is transient. SQLSTATE entries of two characters name a class."""

    transient_statuses: tuple[int, ...] = field(
        default=(408, 429, 500, 502, 503, 504),
        metadata=rule(_statuses, "must be HTTP status codes 100..599"),
    )
    rejected_statuses: tuple[int, ...] = field(
        default=(429, 503), metadata=rule(_statuses, "must be HTTP status codes 100..599")
    )
    transient_sqlstates: tuple[str, ...] = field(
        default=("08", "40001", "40P01"),
        metadata=rule(_sqlstates, "must be SQLSTATE codes (5 chars) or classes (2 chars)"),
    )
    transient_exceptions: tuple[str, ...] = field(
        default=(),
        metadata=rule(lambda v: all(isinstance(s, str) and s for s in v), "must be qualified class names"),
    )
    honor_retryable_header: bool = True

    def _cross_checks(self) -> None:
        stray = [s for s in self.rejected_statuses if s not in self.transient_statuses]
        if stray:
            raise self._error("rejected_statuses", f"{stray} must also be transient_statuses")


class Classifier:
    """Maps exceptions, HTTP answers and SQLSTATEs to an ``Outcome``."""

    __slots__ = ("_cache", "_transient_exc", "config")

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()
        self._transient_exc = frozenset(self.config.transient_exceptions)
        self._cache: dict[int, Outcome] = {}

    # -- exceptions ---------------------------------------------------------
    def exception(self, exc: BaseException, *, wall_now: float | None = None) -> Outcome:
        """Classify a raised exception. Cancellation is never retryable."""
        if isinstance(exc, _NEVER_RETRIED):
            return CANCELLED
        if isinstance(exc, TimeoutError):
            return Outcome.timeout(TimeoutPhase.ATTEMPT)
        if isinstance(exc, ConnectionRefusedError):
            return Outcome.error("connection_refused", retryable=True)
        if isinstance(exc, ConnectionError):
            return Outcome.error("connection_error", retryable=True)
        status = getattr(exc, "code", None) or getattr(exc, "status", None)
        headers = getattr(exc, "headers", None)
        if isinstance(status, int) and 100 <= status <= 599:
            return self.http(
                status,
                headers if isinstance(headers, Mapping) or hasattr(headers, "get") else None,
                wall_now=wall_now,
            )
        sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if isinstance(sqlstate, str):
            return self.sqlstate(sqlstate)
        reason = getattr(exc, "reason", None)  # urllib.error.URLError wraps the cause
        if isinstance(reason, BaseException) and reason is not exc:
            return self.exception(reason, wall_now=wall_now)
        names = {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__} | {
            c.__qualname__ for c in type(exc).__mro__
        }
        if names & self._transient_exc:
            return Outcome.error(f"exception_{type(exc).__name__}", retryable=True)
        return Outcome.error(f"exception_{type(exc).__name__}", retryable=False)

    # -- HTTP ---------------------------------------------------------------
    def http(
        self, status: int, headers: Mapping[str, str] | None = None, *, wall_now: float | None = None
    ) -> Outcome:
        """Classify an HTTP status, with ``X-Retryable`` and ``Retry-After`` headers."""
        if 200 <= status < 400 and not headers:
            return Outcome.success() if status == 200 else Outcome.success(f"http_{status}")
        if headers is None:
            cached = self._cache.get(status)
            if cached is not None:
                return cached
        if 200 <= status < 400:
            return Outcome.success(f"http_{status}")
        cfg = self.config
        retryable = status in cfg.transient_statuses
        retry_after: float | None = None
        if headers is not None:
            flag = _header(headers, "x-retryable")
            if flag is not None and cfg.honor_retryable_header:
                lowered = flag.strip().lower()
                if lowered in ("true", "1", "yes"):
                    retryable = True
                elif lowered in ("false", "0", "no"):
                    retryable = False
            raw = _header(headers, "retry-after")
            if raw is not None:
                retry_after = parse_retry_after(raw, wall_now=wall_now)
        evidence = f"http_{status}"
        if status == 408:
            out = Outcome(OutcomeKind.TIMEOUT, retryable, evidence, retry_after, TimeoutPhase.READ)
        elif status in cfg.rejected_statuses:
            out = Outcome(OutcomeKind.REJECTED, retryable, evidence, retry_after)
        else:
            out = Outcome(OutcomeKind.ERROR, retryable, evidence, retry_after)
        if headers is None:
            self._cache[status] = out
        return out

    # -- SQL ----------------------------------------------------------------
    def sqlstate(self, code: str) -> Outcome:
        """Classify a SQLSTATE: class 08, 40001, 40P01 transient by default; class 23 permanent."""
        code = code.upper()
        transient = self.config.transient_sqlstates
        retryable = code in transient or code[:2] in transient
        return Outcome.error(f"sqlstate_{code}", retryable=retryable)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is None:
            value = getter(name.title()) if name != name.title() else None
        if value is None:
            for k, v in headers.items():
                if k.lower() == name:
                    return str(v)
        return None if value is None else str(value)
    return None


def parse_retry_after(value: str, *, wall_now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or HTTP-date), or None.

    Delta-seconds are ASCII digits, optionally with a fraction or exponent. An
    HTTP-date needs ``wall_now`` (seconds since the epoch, from the driver's
    wall clock). Anything else, including other scripts' digits, a negative or
    non-finite number, gives ``None`` (the hint is ignored); this never raises.
    """
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    if wall_now is None or not math.isfinite(wall_now) or not text.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:  # asctime dates carry no zone; HTTP-dates are always GMT
            when = when.replace(tzinfo=datetime.UTC)
        delay = when.timestamp() - wall_now
    except (TypeError, ValueError, IndexError, OverflowError, AttributeError):
        return None
    return max(0.0, delay) if math.isfinite(delay) else None
