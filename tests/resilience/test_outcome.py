"""The outcome vocabulary: a server's Retry-After hint must be a usable delay."""

from __future__ import annotations

import math

import pytest

from resilience.outcome import Outcome, OutcomeKind, TimeoutPhase


@pytest.mark.parametrize("hint", [-1.0, -1e-9, math.nan, math.inf, -math.inf])
def test_outcome_rejects_a_negative_nan_or_infinite_retry_after(hint: float) -> None:
    for make in (
        lambda: Outcome(OutcomeKind.ERROR, True, "http_503", hint),
        lambda: Outcome.error("http_503", retryable=True, retry_after=hint),
        lambda: Outcome.rejected("http_429", retry_after=hint),
        lambda: Outcome(OutcomeKind.TIMEOUT, True, "http_408", hint, TimeoutPhase.READ),
    ):
        with pytest.raises(ValueError) as info:
            make()
        assert str(info.value) == f"Outcome.retry_after={hint!r}: must be a number of seconds >= 0 and finite"


def test_outcome_rejects_a_retry_after_that_is_not_a_number() -> None:
    with pytest.raises(ValueError, match=r"^Outcome.retry_after='5': must be a number"):
        Outcome.error("http_503", retryable=True, retry_after="5")  # type: ignore[arg-type]


@pytest.mark.parametrize("hint", [None, 0.0, 0, 2.5, 1e9])
def test_outcome_keeps_a_usable_retry_after(hint: float | None) -> None:
    assert Outcome.rejected("http_429", retry_after=hint).retry_after == hint
