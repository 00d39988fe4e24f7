"""The flood detector: flags an IP above the threshold of new connections in a sliding window, not at
it; forgets quiet IPs; bounded memory for 10,000 IPs and a flood; standard config errors."""

from __future__ import annotations

from typing import Any

import pytest

from sim.model.flood import FloodDetector
from sim.scenario.gates import FloodConfig


def detector(**kw: Any) -> FloodDetector:
    return FloodDetector(FloodConfig(**kw))


def test_flags_above_the_threshold_and_not_at_it() -> None:
    d = detector(threshold=500, window=1.0)
    # 500 new connections within half a second: at the threshold, never flagged
    assert not any(d.observe(7, i * 0.001) for i in range(500))
    assert d.count(7, 0.499) == 500
    assert d.observe(7, 0.5)  # the 501st within the window
    assert d.flagged == 1
    # the window slides: at 1.5 s only the connections after 0.5 s count (this one)
    assert not d.observe(7, 1.5)


def test_window_slides_hand_counted() -> None:
    d = detector(threshold=3, window=1.0)
    events = [  # (time, new connections in (t - 1, t] counting this one, flagged = count > 3)
        (0.0, 1, False),
        (0.5, 2, False),
        (0.9, 3, False),
        (0.95, 4, True),
        (1.2, 4, True),  # (0.2, 1.2]: 0.5 0.9 0.95 1.2
        (1.6, 4, True),  # (0.6, 1.6]: 0.9 0.95 1.2 1.6
        (2.5, 2, False),  # (1.5, 2.5]: 1.6 2.5
    ]
    for t, count, flagged in events:
        assert d.observe(1, t) is flagged, t
        assert d.count(1, t) == min(count, 4)
        assert d.over(1, t) is flagged
    assert not d.over(1, 3.5)  # (2.5, 3.5]: nothing; asking records nothing
    assert d.count(1, 3.5) == 0 and d.count(2, 3.5) == 0 and not d.over(2, 3.5)
    assert d.observed == len(events)


def test_a_600_per_second_flood_is_flagged_from_its_501st_connection() -> None:
    d = detector(threshold=500, window=1.0)
    flags = [d.observe(66, k / 600) for k in range(1_200)]  # 2 s at 600 new connections/s
    first = flags.index(True)
    assert first == 500  # connection k=500 at 0.833 s: 501 in the window
    assert all(flags[first:])  # a steady 600/s stays above 500 in every window
    # a normal IP at 400/s alongside is never flagged
    d2 = detector(threshold=500, window=1.0)
    assert not any(d2.observe(1, k / 400) for k in range(1_200))


def test_the_detector_must_see_the_whole_tier() -> None:
    """A 600/s IP spread over two replicas shows each replica 300/s: per-replica detectors miss it,
    one detector in front of the balancer catches it."""
    tier = detector(threshold=500, window=1.0)
    per_replica = [detector(threshold=500, window=1.0) for _ in range(2)]
    tier_flags = replica_flags = 0
    for k in range(1_200):
        now = k / 600
        tier_flags += tier.observe(66, now)
        replica_flags += per_replica[k % 2].observe(66, now)
    assert tier_flags == 700 and replica_flags == 0


def test_ips_are_counted_apart() -> None:
    d = detector(threshold=2, window=1.0)
    assert [d.observe(ip, 0.1 * i) for i, ip in enumerate([1, 2, 1, 2, 1, 2, 3])] == [
        False, False, False, False, True, True, False,
    ]  # fmt: skip


def test_memory_bounded_for_ten_thousand_ips_and_a_flood() -> None:
    d = detector(threshold=500, window=1.0)
    now = 0.0
    for second in range(3):
        for ip in range(10_000):  # every client IP opens one connection a second
            now = second + ip * 1e-4
            assert not d.observe(ip, now)
            if ip % 10 == 0:  # 20 flood IPs at 1,000 new connections/s each
                for f in range(20):
                    d.observe(100_000 + f, now)
        assert len(d) <= 10_020
        assert d.stamps_held() <= 10_000 * 2 + 20 * 501
    assert d.flagged > 0
    d.observe(5, now + 1.5)  # a quiet window later only the newcomer is held
    assert (len(d), d.stamps_held()) == (1, 1)


def test_max_ips_caps_the_table() -> None:
    d = detector(threshold=5, window=10.0, max_ips=100)
    for ip in range(1_000):
        d.observe(ip, ip * 0.001)
    assert len(d) == 100
    assert d.evicted_busy == 900


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"threshold": 0}, "FloodConfig.threshold=0: must be in 1..1000000"),
        ({"window": 0.0}, "FloodConfig.window=0.0: must be > 0 and finite"),
        ({"max_ips": 0}, "FloodConfig.max_ips=0: must be in 1..10000000"),
        ({"threshold": 1.5}, "FloodConfig.threshold=1.5: must be an integer"),
    ],
)
def test_config_errors(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        FloodConfig(**kw)
    assert str(err.value) == message
