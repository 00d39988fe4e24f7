"""tenacity + pybreaker stacked as their READMEs show: deadline → retry → breaker → call.

Two forms: the decorator form (``make_call``) and the call form (``make_call_form``).

tenacity: ``@retry(stop=stop_after_attempt(3) | stop_after_delay(10), wait=wait_random_exponential(...))``;
pybreaker: a module-level ``CircuitBreaker(fail_max=..., reset_timeout=...)`` used as a decorator.
"""

from __future__ import annotations

import pybreaker
from tenacity import Retrying, retry, stop_after_attempt, stop_after_delay, wait_random_exponential

breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)


def make_call(fn):  # type: ignore[no-untyped-def]
    """Wrap ``fn`` the idiomatic way: retry (with an overall deadline) around the breaker."""

    @retry(
        stop=(stop_after_attempt(3) | stop_after_delay(10)),
        wait=wait_random_exponential(multiplier=0.1, max=10),
        reraise=True,
    )
    @breaker
    def call():  # type: ignore[no-untyped-def]
        return fn()

    return call


def make_call_form(fn):  # type: ignore[no-untyped-def]
    """The call form: one reused ``Retrying`` object calling ``breaker.call(fn)`` (no decorators).

    Same policies as ``make_call``; it skips the decorator wrappers' per-call
    copy of the ``Retrying`` object (the benchmark measures which form is faster).
    """
    retrying = Retrying(
        stop=(stop_after_attempt(3) | stop_after_delay(10)),
        wait=wait_random_exponential(multiplier=0.1, max=10),
        reraise=True,
    )
    call_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)

    def call():  # type: ignore[no-untyped-def]
        return retrying(call_breaker.call, fn)

    return call
