"""The package's shape: a front door of at most 30 names; yesterday's names still import, warned."""

from __future__ import annotations

import importlib
import warnings

import pytest

import resilience


def test_the_front_door_exports_at_most_30_names() -> None:
    assert len(resilience.__all__) <= 30
    assert {"retry", "attempts", "breaker", "RetryingCaller", "testing"} <= set(resilience.__all__)


def test_yesterdays_names_still_import_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"resilience\.core\.Pipeline"):
        from resilience import Pipeline  # noqa: F401
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from resilience.core import Pipeline as Moved  # noqa: F401

        importlib.import_module("resilience").retry  # noqa: B018
    with pytest.raises(AttributeError):
        resilience.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
