"""A pytest fixture for testing mode: ``resilience_testing`` yields the manual clock.

Registered as a pytest plugin (entry point ``resilience``); or import the
fixture into a ``conftest.py``. Imports pytest, so the library never imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .clock import ManualClock
from .testing import testing_mode

__all__ = ["resilience_testing"]


@pytest.fixture
def resilience_testing() -> Iterator[ManualClock]:
    """Testing mode for one test (one attempt per call); re-call ``set_testing`` to change it."""
    with testing_mode() as clock:
        yield clock
