"""The seed's chapter 5, short form: pinned scenario values, recovery time, the timeout tuner."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from resilience.core import ExponentialBackoff, FullJitter
from resilience.timeouts import TagTimeouts, TimeoutRegistry
from sim import Scenario, load_scenario
from sim.experiments.chapter5 import scaled
from sim.experiments.chapter5_run import measure
from sim.experiments.chapter5_tables import (
    LAYERS,
    calibration_table,
    markdown,
    paired_recovery,
    recovery_table,
    recovery_time,
)
from sim.graph.defences import (
    FloodDiversion,
    FloodDiversionConfig,
    TimeoutTuner,
    TunerConfig,
    nearest_rank,
)
from sim.scenario.spec import LatencySpike
from sim.scenario.workloads import Poisson, Schedule

# -- recovery time (the issue's definition) ---------------------------------------------------------


def _grid(
    seconds: int, step: float, ratio_at: dict[int, float], rate: int = 100
) -> tuple[list[int], list[int]]:
    """Offered ``rate`` per second spread over fine bins; good = ratio of offered in the given seconds."""
    per = round(1 / step)
    offered, good = [], []
    for s in range(seconds):
        for _ in range(per):
            o = rate // per
            offered.append(o)
            good.append(round(o * ratio_at.get(s, 1.0)))
    return offered, good


def test_recovery_is_the_start_of_the_first_good_five_second_window() -> None:
    bad = {s: 0.2 for s in range(60, 83)}  # stall 60..80, bad until 83
    offered, good = _grid(120, 1.0, bad)
    assert recovery_time(offered, good, step=1.0, stall_end=80.0) == 3.0
    # a single bad second inside the next window pushes the start past it
    bad[86] = 0.9
    offered, good = _grid(120, 1.0, bad)
    assert recovery_time(offered, good, step=1.0, stall_end=80.0) == 7.0


def test_recovery_counts_exactly_95_percent_as_good_and_94_as_bad() -> None:
    offered, good = _grid(100, 1.0, {s: 0.95 for s in range(80, 100)})
    assert recovery_time(offered, good, step=1.0, stall_end=80.0) == 0.0
    offered, good = _grid(100, 1.0, {s: 0.94 for s in range(80, 100)})
    assert recovery_time(offered, good, step=1.0, stall_end=80.0) is None


def test_recovery_on_a_fine_grid_resolves_fractions_of_a_second() -> None:
    step = 0.1
    per = 10
    offered = [10] * (120 * per)
    good = [10] * (120 * per)
    for k in range(600, 832):  # bad until t = 83.2
        good[k] = 0
    got = recovery_time(offered, good, step=step, stall_end=80.0)
    assert got is not None and math.isclose(got, 3.2, abs_tol=1e-9)
    # on a 1 s grid the same data recovers at the next whole second
    coarse_o = [sum(offered[i : i + per]) for i in range(0, len(offered), per)]
    coarse_g = [sum(good[i : i + per]) for i in range(0, len(good), per)]
    assert recovery_time(coarse_o, coarse_g, step=1.0, stall_end=80.0) == 4.0


def test_recovery_needs_offered_requests_and_checks_its_arguments() -> None:
    offered, good = _grid(100, 1.0, {})
    offered[82] = good[82] = 0  # a second with nothing offered is not a recovered second
    assert recovery_time(offered, good, step=1.0, stall_end=80.0) == 3.0
    with pytest.raises(ValueError, match="must be equal"):
        recovery_time([1, 2], [1], step=1.0, stall_end=0.0)
    with pytest.raises(ValueError, match="whole number of steps"):
        recovery_time([1], [1], step=0.3, stall_end=0.0)


# -- tables -------------------------------------------------------------------------------------------


def test_calibration_table_flags_layers_outside_ten_percent() -> None:
    df = calibration_table({"L4": 8.2 * 1.09, "L7": 15.6 * 0.89, "gateway": 42.3, "DB": 28.5 * 1.11})
    assert list(df.layer) == ["L4", "L7", "gateway", "DB"]
    assert list(df["within ±10%"]) == [True, False, True, False]
    text = markdown(df)
    assert text.splitlines()[0].startswith("| layer | seed p99 (ms)")
    assert "| L4 | 8.2 | 8.9 | 1.1 | yes |" in text


def test_recovery_tables_count_never_as_the_time_left_and_pair_by_seed() -> None:
    runs = pd.DataFrame(
        {
            "config": ["static"] * 3 + ["defended"] * 3,
            "seed": [1, 2, 3, 1, 2, 3],
            "recovery_s": [10.0, None, 12.0, 2.0, 3.0, 4.0],
        }
    )
    table = recovery_table(runs, cap=100.0)
    static = table[table.configuration == "static"].iloc[0]
    assert static["never"] == 1
    assert math.isclose(static["mean (s)"], (10 + 100 + 12) / 3)
    assert static["max (s)"] == 100.0
    diff = paired_recovery(runs, cap=100.0)
    assert math.isclose(diff["mean"], ((10 - 2) + (100 - 3) + (12 - 4)) / 3)
    assert diff["n"] == 3 and diff["low"] < diff["mean"] < diff["high"]


# -- the payment-timeout tuner ------------------------------------------------------------------------


def test_nearest_rank_quantile() -> None:
    values = [float(i) for i in range(1, 101)]
    assert nearest_rank(values, 0.99) == 99.0
    assert nearest_rank([5.0], 0.99) == 5.0
    assert math.isnan(nearest_rank([], 0.5))


def _registry() -> TimeoutRegistry:
    return TimeoutRegistry(TagTimeouts(default=1.0, tags={"payment": 1.0, "query": 0.8}))


def test_tuner_cuts_only_when_the_window_p99_reaches_the_trigger() -> None:
    reg = _registry()
    tuner = TimeoutTuner(TunerConfig(), reg)
    for i in range(1000):  # 1 % at the 1.0 s timeout: the p99 (nearest rank) is just below it
        tuner.observe(i * 0.004, 1.0 if i % 100 == 0 else 0.05)
    assert tuner.evaluate(4.0) is False
    assert reg.timeout_for(tag="payment") == 1.0
    for _ in range(20):  # 3 % at the timeout (a rounding error short of it) within the last 5 s
        tuner.observe(4.5, (4.5 + 1.0) - 4.5 - 1e-12)
    assert tuner.evaluate(5.0) is True
    assert reg.timeout_for(tag="payment") == 0.3
    assert reg.timeout_for(tag="query") == 0.8  # other tags untouched
    assert tuner.cut_at == 5.0
    assert tuner.evaluate(6.0) is False  # one-way: no second cut
    assert [h[2] for h in tuner.history] == [1.0, 0.3, 0.3]


def test_tuner_forgets_latencies_older_than_the_window() -> None:
    reg = _registry()
    tuner = TimeoutTuner(TunerConfig(window=5.0), reg)
    for _ in range(10):
        tuner.observe(1.0, 3.0)  # slow, but more than 5 s before the evaluation
    for _ in range(100):
        tuner.observe(6.5, 0.05)
    assert tuner.evaluate(6.0 + 1.0) is False  # (2, 7]: the slow ones are out
    assert reg.timeout_for(tag="payment") == 1.0
    assert tuner.current(7.0) == 0.05
    # negative control: the same latencies evaluated while the slow ones are inside the window
    reg2 = _registry()
    tuner2 = TimeoutTuner(TunerConfig(window=5.0), reg2)
    for _ in range(10):
        tuner2.observe(1.0, 3.0)
    for _ in range(100):
        tuner2.observe(5.5, 0.05)
    assert tuner2.evaluate(5.9) is True


def test_tuner_config_errors_name_field_value_and_rule() -> None:
    with pytest.raises(ValueError, match=r"TunerConfig\.cut_to=0(\.0)?: must be > 0"):
        TunerConfig(cut_to=0)
    with pytest.raises(ValueError, match=r"TunerConfig\.quantile=1\.0: must be in \(0, 1\)"):
        TunerConfig(quantile=1.0)


# -- the flood diversion ------------------------------------------------------------------------------


def test_flood_diversion_flags_above_the_threshold_and_releases_after_the_flood() -> None:
    div = FloodDiversion(FloodDiversionConfig(threshold=500, window=1.0))
    flood_ip, user_ip = 7, 8
    diverted = []
    t = 0.0
    for i in range(1200):  # 600 new connections/s for 2 s
        t = i / 600
        if div.divert(flood_ip, True, t):
            diverted.append(t)
        else:
            div.opened(flood_ip, t)
        if i % 300 == 0:  # a user opening a connection now and then is never flagged
            assert not div.divert(user_ip, False, t)
            div.opened(user_ip, t)
    # the 501st connection within 1 s is the first over the threshold; the next request is diverted
    assert div.flagged_at[flood_ip] == pytest.approx(500 / 600)
    assert diverted[0] == pytest.approx(501 / 600)
    assert len(diverted) == 1200 - 501
    assert user_ip not in div.flagged_at
    # just under the threshold is not a flood (negative control)
    calm = FloodDiversion(FloodDiversionConfig(threshold=500, window=1.0))
    for i in range(2000):
        assert not calm.divert(3, True, i / 495.0)
        calm.opened(3, i / 495.0)
    assert calm.flagged_at == {}
    # once the flood stops, the IP's next request after the window goes its normal way again
    assert div.divert(flood_ip, True, t + 1.5) is False
    assert flood_ip not in div.flagged


# -- the pinned scenario files ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "scenarios" / "chapter5"
GATEWAY_EDGES = ("gw_cache", "gw_checkout_write", "gw_payment_write", "gw_payment_call")


def _edges_of(sc: Scenario, service: str, route: str) -> list[list[str]]:
    return [list(step.calls) for step in sc.services[service].routes[route].steps]


def _check_pinned(sc: Scenario) -> None:
    """The issue's numbers, field by field."""
    assert sc.duration == 180.0
    web, flood = sc.clients["web"], sc.clients["flood"]
    assert web.ips == 10_000 and web.workload == Poisson(rate=12_000.0)
    assert web.routes == {"query": 0.7, "checkout": 0.2, "payment": 0.1}
    assert web.new_connections is False
    assert flood.ips == 20 and flood.new_connections is True
    assert flood.workload == Schedule(steps=((0.0, 0.0), (55.0, 20 * 600.0), (90.0, 0.0)))
    l4, l7, gw = sc.services["l4"], sc.services["l7"], sc.services["gateway"]
    assert l4.replicas == 2
    assert (l4.gate.connections.limit, l4.gate.connections.syn_backlog) == (20_000, 1_024)
    assert l7.replicas == 4 and (l7.gate.rate_limit.rate, l7.gate.rate_limit.burst) == (50.0, 100.0)
    assert gw.replicas == 4 and gw.workers == 200
    assert {r: gw.routes[r].timeout for r in ("query", "checkout", "payment")} == {
        "query": 0.8,
        "checkout": 1.0,
        "payment": 1.0,
    }
    assert sc.services["db_primary"].workers == 100 and sc.services["db_replica"].workers == 200
    # paths: query = cache then replica (on a miss); checkout = a primary write; payment = a primary
    # write, then the payment service
    assert _edges_of(sc, "gateway", "query") == [["gw_cache"]]
    assert sc.edges["gw_cache"].target == "cache" and sc.services["cache"].cache is not None
    assert _edges_of(sc, "cache", "default") == [["cache_replica"]]
    assert sc.edges["cache_replica"].target == "db_replica"
    assert _edges_of(sc, "gateway", "checkout") == [["gw_checkout_write"]]
    assert _edges_of(sc, "gateway", "payment") == [["gw_payment_write"], ["gw_payment_call"]]
    assert [sc.edges[e].target for e in GATEWAY_EDGES[1:]] == ["db_primary", "db_primary", "payment"]
    retry = sc.edges["gw_cache"].retry
    assert retry.max_attempts == 2
    assert retry.backoff == ExponentialBackoff(base=0.05, cap=1.0, jitter=FullJitter())
    for e in GATEWAY_EDGES:
        b = sc.edges[e].breaker
        assert (b.window_type.value, b.window_size, b.failure_rate_threshold) == ("count", 100, 0.5)
        assert (b.slow_call_duration, b.slow_call_rate_threshold, b.wait_in_open) == (1.0, 0.5, 5.0)
    (fault,) = sc.faults
    assert isinstance(fault, LatencySpike) and fault.target == "db_primary"
    assert (fault.start, fault.duration, fault.add, fault.factor) == (60.0, 20.0, 3.2, 1.0)


def test_static_file_holds_the_issue_values() -> None:
    sc = load_scenario(FILES / "static.toml")
    _check_pinned(sc)
    assert sc.defences is None
    assert all(sc.edges[e].fallback is None for e in GATEWAY_EDGES)


# -- short runs of the model (1/10 of the issue's scale) ------------------------------------------------

SCALE = 0.1


SHIFT = 25.0


def _short(sc: Scenario, scale: float, shift: float = SHIFT) -> Scenario:
    """``sc`` at ``scale``, warm-up and every fault ``shift`` seconds earlier, horizon 120 s."""
    small = scaled(sc, scale)
    steps = [[t if r == 0 and t == 0 else t - shift, r] for t, r in small.clients["flood"].workload.steps]
    return small.with_(
        **{
            "warmup": sc.warmup - shift,
            "duration": 120.0,
            "faults[0].start": sc.faults[0].start - shift,
            "clients.flood.workload.steps": steps,
        }
    )


def test_normal_period_calibration_within_ten_percent() -> None:
    sc = scaled(load_scenario(FILES / "static.toml"), SCALE).with_(duration=8.0, warmup=3.0, faults=[])
    row = measure(sc, seed=1)
    assert row["recovery_s"] is None and "fault_L4_p99_ms" not in row
    table = calibration_table({layer: row[f"normal_{layer}_p99_ms"] for layer in LAYERS})
    assert table["within ±10%"].all(), table


def test_defended_file_is_the_static_one_plus_the_defence() -> None:
    static = load_scenario(FILES / "static.toml")
    sc = load_scenario(FILES / "defended.toml")
    _check_pinned(sc)
    d = sc.defences
    assert d.flood == FloodDiversionConfig(
        service="l4", threshold=500, window=1.0, answer_time=0.005, label="static_page"
    )
    assert d.tuners == (
        TunerConfig(service="gateway", route="payment", tag="payment", trigger=1.0, cut_to=0.3, window=5.0),
    )
    assert sc.services["gateway"].routes["payment"].tag == "payment"
    assert sc.edges["gw_cache"].fallback == "cached_page"
    assert sc.edges["gw_checkout_write"].fallback == "compensation"
    assert sc.edges["gw_checkout_write"].compensation is not None
    # nothing else differs from the static configuration
    a, b = static.to_dict(), sc.to_dict()
    for data in (a, b):
        data.pop("name")
        data.pop("defences", None)
        for e in ("gw_cache", "gw_checkout_write"):
            for k in ("fallback", "compensation"):
                data["edges"][e].pop(k, None)
    assert a == b


def test_short_defended_run_flags_the_flood_and_cuts_the_payment_timeout() -> None:
    """1/40 scale, warm-up and faults 25 s earlier: the run recovers within the horizon; the detector
    flags every flood IP within a second of the flood and no user's IP; the payment timeout is cut
    during the stall, at an evaluation after the p99 reached 1 s (the detection delay counts)."""
    defended = _short(load_scenario(FILES / "defended.toml"), scale=SCALE / 4)
    row = measure(defended, seed=1)
    assert row["recovery_s"] is not None
    flood_start = 55.0 - SHIFT
    assert row["flood_ips_flagged"] == defended.clients["flood"].ips >= 1
    assert row["other_ips_flagged"] == 0
    assert flood_start < row["first_flagged_s"] < flood_start + 1.0
    stall_start, stall_end = 60.0 - SHIFT, 80.0 - SHIFT
    assert stall_start + 1.0 <= row["timeout_cut_s"] < stall_end
