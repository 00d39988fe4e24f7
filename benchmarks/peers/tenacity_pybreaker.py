"""tenacity + pybreaker stacked as their READMEs show: deadline → retry → breaker → call.

tenacity: ``@retry(stop=stop_after_attempt(3) | stop_after_delay(10), wait=wait_random_exponential(...))``;
pybreaker: a module-level ``CircuitBreaker(fail_max=..., reset_timeout=...)`` used as a decorator.
"""

from __future__ import annotations

import pybreaker
from tenacity import retry, stop_after_attempt, stop_after_delay, wait_random_exponential

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
