"""The pytest plugin of regression simulations (entry point ``rwb``): the ``rwb`` fixture and options.

Options: ``--rwb-seeds`` (default seeds, ``0..4``), ``--rwb-baselines DIR`` (default
``tests/baselines`` under the rootdir, or the ``rwb_baselines`` ini value),
``--rwb-update-baselines`` (rewrite baseline files instead of comparing).
Scenarios run only when a test asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sim.testing.session import Regression

__all__ = ["rwb"]

DEFAULT_SEEDS = "0..4"
_KEY = pytest.StashKey["Regression"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rwb", "regression simulations (resilience workbench)")
    group.addoption(
        "--rwb-seeds",
        default=None,
        metavar="SEEDS",
        help=f"seeds of rwb.run() calls that name none: A..B or a,b,c (default {DEFAULT_SEEDS})",
    )
    group.addoption(
        "--rwb-baselines",
        default=None,
        metavar="DIR",
        help="directory of baseline files, relative to the rootdir (default tests/baselines)",
    )
    group.addoption(
        "--rwb-update-baselines",
        action="store_true",
        default=False,
        help="write the baseline files from this run instead of comparing with them",
    )
    parser.addini(
        "rwb_baselines", "directory of rwb baseline files, relative to the rootdir", default="tests/baselines"
    )
    parser.addini(
        "rwb_seeds",
        f"default seeds of rwb.run(), A..B or a,b,c (default {DEFAULT_SEEDS})",
        default=DEFAULT_SEEDS,
    )


def _seeds(config: pytest.Config) -> tuple[int, ...]:
    from sim.testing.session import parse_seeds

    given = config.getoption("--rwb-seeds")
    return (
        parse_seeds(given, "--rwb-seeds")
        if given
        else parse_seeds(str(config.getini("rwb_seeds")), "rwb_seeds")
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        _seeds(config)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


def _regression(config: pytest.Config) -> Regression:
    if _KEY not in config.stash:
        from sim.testing.session import Regression

        seeds = _seeds(config)
        baselines = config.rootpath / (
            config.getoption("--rwb-baselines") or str(config.getini("rwb_baselines"))
        )
        config.stash[_KEY] = Regression(
            config.rootpath, seeds, baselines, bool(config.getoption("--rwb-update-baselines"))
        )
    return config.stash[_KEY]


@pytest.fixture(scope="session")
def rwb(pytestconfig: pytest.Config) -> Regression:
    """Regression simulations: ``rwb.run(scenario_or_path, seeds=None)`` -> ``Runs`` (cached per
    session), ``runs.assert_recovers_within(s)`` and the other bounds, ``rwb.check_baseline(runs, name)``."""
    return _regression(pytestconfig)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    reg = config.stash.get(_KEY, None)
    if reg is None:
        return
    terminalreporter.write_line(
        f"rwb: {reg.runs_simulated} simulation runs, {reg.runs_from_cache} served from the session cache"
    )
    for path in reg.baselines_written:
        terminalreporter.write_line(f"rwb: baseline written: {path}")
