"""The ``rwb`` fixture in a fresh pytest run: loaded by its entry point, bounds judged by the 95% interval."""

from __future__ import annotations

import pytest
from plugin_support import SEEDS, direct_values, g, inner, project, t95

pytest_plugins = ["pytester"]

SEEDS_TEXT = ", ".join(map(str, SEEDS))


def test_the_plugin_is_loaded_by_its_entry_point_without_a_conftest(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(
        """
        def test_fixture(rwb, request):
            plugin = request.config.pluginmanager.get_plugin("rwb")
            assert plugin.__name__ == "sim.pytest_plugin"
            dists = request.config.pluginmanager.list_plugin_distinfo()
            assert any(p is plugin and d.project_name == "resilience-workbench" for p, d in dists)
            assert rwb.seeds == (0, 1, 2, 3, 4)
        """
    )
    assert not list(pytester.path.glob("conftest.py"))
    inner(pytester).assert_outcomes(passed=1)
    # Negative control: with the entry point's plugin blocked, the fixture does not exist.
    blocked = inner(pytester, "-p", "no:rwb")
    blocked.assert_outcomes(errors=1)
    blocked.stdout.fnmatch_lines(["*fixture 'rwb' not found*"])


def test_a_passing_and_a_failing_bound_with_a_readable_message(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(
        """
        def test_holds(rwb):
            runs = rwb.run("flaky.toml")
            runs.assert_success_ratio_above(0.8)
            runs.assert_amplification_below(1.3)
            runs.assert_p99_below(0.2)
            runs.assert_recovers_within(1.0)

        def test_too_strict(rwb):
            rwb.run("flaky.toml").assert_success_ratio_above(0.99)
        """
    )
    result = inner(pytester)
    result.assert_outcomes(passed=1, failed=1)
    mean, low, high = t95(direct_values("success_ratio"))
    assert high < 0.99  # the failing bound is wrong by the interval, not by chance
    text = result.stdout.str()
    expected = (
        f"flaky-small: success ratio must lie at or above 0.99 over seeds {SEEDS_TEXT}, but its mean is "
        f"{g(mean)} with 95% interval [{g(low)}, {g(high)}], on the wrong side; "
        "per-seed values: "
    )
    assert expected in text.replace("\n", "")
    assert "test_holds" not in "".join(line for line in text.splitlines() if line.startswith("FAILED"))


@pytest.mark.parametrize("side", ["above", "below"])
def test_a_mean_on_the_right_side_whose_interval_crosses_the_bound_fails(
    pytester: pytest.Pytester, side: str
) -> None:
    mean, low, high = t95(direct_values("amplification"))
    assert low < mean < high
    crossing = (low + mean) / 2 if side == "above" else (mean + high) / 2
    clear = low - 0.001 if side == "above" else high + 0.001
    project(pytester)
    pytester.makepyfile(
        f"""
        def test_crossing(rwb):
            rwb.run("flaky.toml").assert_{side}("amplification", {crossing!r})

        def test_clear(rwb):
            rwb.run("flaky.toml").assert_{side}("amplification", {clear!r})
        """
    )
    result = inner(pytester)
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str().replace("\n", "")
    end, value = ("lower", low) if side == "above" else ("upper", high)
    assert (
        f"flaky-small: amplification must lie at or {side} {g(crossing)} over seeds {SEEDS_TEXT}, and "
        f"although the mean {g(mean)} is on the right side, its 95% interval [{g(low)}, {g(high)}] crosses "
        f"the bound ({end} end {g(value)})"
    ) in text
    result.stdout.fnmatch_lines(["FAILED test_*::test_crossing*"])


def test_each_scenario_and_seed_runs_once_per_session(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(
        """
        import pytest
        import sim.engine
        from sim import load_scenario

        CALLS = []

        @pytest.fixture(scope="session", autouse=True)
        def count_runs():
            real = sim.engine.run
            def counting(scenario, seed, **kw):
                CALLS.append((scenario.name, seed))
                return real(scenario, seed, **kw)
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(sim.engine, "run", counting)
                yield

        def test_by_path(rwb):
            rwb.run("flaky.toml")

        def test_by_equal_scenario_object(rwb):
            rwb.run(load_scenario("flaky.toml"), seeds=[0, 1, 2])

        def test_more_seeds(rwb):
            rwb.run("flaky.toml", seeds=range(7))

        def test_counted(rwb):
            assert sorted(CALLS) == [("flaky-small", s) for s in range(7)]
            assert (rwb.runs_simulated, rwb.runs_from_cache) == (7, 3 + 5)
        """
    )
    result = inner(pytester)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["rwb: 7 simulation runs, 8 served from the session cache"])
    # The cache belongs to the session: a second session simulates again.
    again = inner(pytester, "-k", "by_equal_scenario_object")
    again.assert_outcomes(passed=1, deselected=3)
    again.stdout.fnmatch_lines(["rwb: 3 simulation runs, 0 served from the session cache"])


def test_seeds_come_from_the_option_and_bad_seeds_are_a_usage_error(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(
        """
        def test_seeds(rwb):
            runs = rwb.run("flaky.toml")
            assert runs.seeds == (3, 5, 8)
            assert [s["seed"] for s in runs.summaries] == [3, 5, 8]
        """
    )
    inner(pytester, "--rwb-seeds", "3,5,8").assert_outcomes(passed=1)
    bad = inner(pytester, "--rwb-seeds", "1..x")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--rwb-seeds=1..x: expected A..B (inclusive) or a comma-separated list*"])
