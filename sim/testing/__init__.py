"""Regression simulations in pytest: scenario runs over fixed seeds, bounds judged by a 95% interval,
baseline files with tolerances. The pytest plugin (``sim.pytest_plugin``) hands out a ``Regression``
as the ``rwb`` fixture."""

from __future__ import annotations

from sim.testing.baselines import Tolerance
from sim.testing.runs import Interval, Runs
from sim.testing.session import BASELINE_METRICS, Regression

__all__ = ["BASELINE_METRICS", "Interval", "Regression", "Runs", "Tolerance"]
