"""Hypothesis: random configs and outcome/time sequences keep the breaker's invariants."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resilience.breaker import ALLOWED_TRANSITIONS, BreakerConfig, BreakerState, CircuitBreaker, WindowType
from resilience.core import Outcome
from resilience.outcome import CANCELLED
from resilience.protocols import Permit

OUTCOMES = [
    Outcome.success(),
    Outcome.error("http_500", retryable=True),
    Outcome.timeout(),
    Outcome.rejected("http_503"),
    Outcome.error("http_404", retryable=False),  # ignored
    CANCELLED,
]


@st.composite
def configs(draw: Any) -> BreakerConfig:
    time_window = draw(st.booleans())
    size = draw(st.integers(1, 8))
    multiplier = draw(st.sampled_from([1.0, 2.0]))
    return BreakerConfig(
        window_type=WindowType.TIME if time_window else WindowType.COUNT,
        window_size=float(size),
        bucket_seconds=draw(st.sampled_from([0.5, 1.0])) if time_window else 1.0,
        minimum_calls=draw(st.integers(1, size if not time_window else 10)),
        failure_rate_threshold=draw(st.sampled_from([0.2, 0.5, 1.0])),
        slow_call_duration=draw(st.sampled_from([None, 0.5])),
        slow_call_rate_threshold=draw(st.sampled_from([0.5, 1.0])),
        wait_in_open=draw(st.sampled_from([0.5, 2.0])),
        wait_multiplier=multiplier,
        wait_max=8.0 if multiplier > 1 else None,
        wait_jitter=draw(st.sampled_from([0.0, 0.3])),
        permitted_calls_in_half_open=draw(st.integers(1, 3)),
        max_wait_in_half_open=draw(st.sampled_from([0.0, 1.5])),
        consecutive_failures=draw(st.sampled_from([None, 2])),
        ignored_evidence=("http_404",),
    )


ops = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.floats(0, 1.5), st.integers(0, len(OUTCOMES) - 1), st.floats(0, 1)),
        st.tuples(st.just("acquire"), st.floats(0, 1.5), st.just(0), st.just(0.0)),
        st.tuples(st.just("finish"), st.floats(0, 1.5), st.integers(0, len(OUTCOMES) - 1), st.floats(0, 1)),
        st.tuples(st.just("release"), st.floats(0, 1.5), st.just(0), st.just(0.0)),
        st.tuples(st.sampled_from(["force", "disable", "reset"]), st.floats(0, 5), st.just(0), st.just(0.0)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(config=configs(), steps=ops, seed=st.integers(0, 2**16))
def test_random_sequences_keep_every_invariant(config: BreakerConfig, steps: list[Any], seed: int) -> None:
    seen: list[tuple[BreakerState, BreakerState, float]] = []
    b = CircuitBreaker(
        config, rng=random.Random(seed), state_listeners=[lambda n, a, z, t: seen.append((a, z, t))]
    )
    now = 0.0
    outstanding: list[Permit] = []
    denied = recorded = ignored = released = 0
    for op, dt, k, duration in steps:
        now += dt
        counting = b.state is not BreakerState.DISABLED
        if op in ("call", "acquire"):
            permit = b.try_acquire(now)
            if permit is not None:
                outstanding.append(permit)
            elif counting:
                denied += 1
            else:
                raise AssertionError("a disabled breaker refused a call")
            if b.state is BreakerState.FORCED_OPEN:
                assert b.try_acquire(now) is None
                denied += 1
        if op in ("call", "finish", "release") and outstanding:
            permit = outstanding.pop(0)
            counting = b.state is not BreakerState.DISABLED
            outcome = OUTCOMES[k]
            if op == "release":
                b.release(permit, now)
                released += counting
            else:
                now += duration
                b.record(permit, now, duration, outcome)
                if outcome is CANCELLED:
                    released += counting
                elif outcome.evidence == "http_404":
                    ignored += counting
                else:
                    recorded += counting
        if op == "force":
            b.force_open(now)
        elif op == "disable":
            b.disable(now)
        elif op == "reset":
            b.reset(now)

        m = b.metrics()
        assert (m.not_permitted, m.recorded, m.ignored, m.released) == (denied, recorded, ignored, released)
        assert b.window_check()
        assert 0.0 <= m.failure_rate <= 1.0 and 0.0 <= m.slow_call_rate <= 1.0
        assert 0 <= m.window_failures <= m.window_calls and 0 <= m.window_slow <= m.window_calls
        if config.window_type is WindowType.COUNT and b.state is not BreakerState.HALF_OPEN:
            assert m.window_calls <= config.window_size
        if b.state is BreakerState.CLOSED and m.window_calls >= config.minimum_calls:
            # a closed breaker with enough calls is below both thresholds
            assert m.failure_rate < config.failure_rate_threshold
            assert m.slow_call_rate < config.slow_call_rate_threshold
        if b.state is BreakerState.OPEN:
            wait_max = config.wait_max or config.wait_in_open
            assert b.open_until - now <= wait_max * (1 + config.wait_jitter) + 1e-9

    assert all((a, z) in ALLOWED_TRANSITIONS for a, z, _ in seen)
    assert all(a is not z for a, z, _ in seen)
    assert [t for _, _, t in seen] == sorted(t for _, _, t in seen)
    state = BreakerState.CLOSED
    for a, z, _ in seen:  # the listener saw one connected walk that ends in the current state
        assert a is state
        state = z
    assert state is b.state
    counted: dict[tuple[BreakerState, BreakerState], int] = {}
    for a, z, _ in seen:
        counted[a, z] = counted.get((a, z), 0) + 1
    assert counted == b.metrics().transitions


@settings(max_examples=100, deadline=None)
@given(
    failures=st.lists(st.booleans(), min_size=1, max_size=60),
    size=st.integers(1, 20),
    threshold=st.sampled_from([0.1, 0.25, 0.5, 0.75, 1.0]),
)
def test_closed_count_window_trips_exactly_when_the_rate_reaches_the_threshold(
    failures: list[bool], size: int, threshold: float
) -> None:
    """Against a direct computation: trip iff some prefix's last ``size`` calls reach the threshold."""
    b = CircuitBreaker(BreakerConfig(window_size=size, minimum_calls=size, failure_rate_threshold=threshold))
    err = Outcome.error("e", retryable=True)
    for i, failed in enumerate(failures):
        permit = b.try_acquire(float(i))
        assert permit is not None
        b.record(permit, float(i), 0.0, err if failed else Outcome.success())
        last = failures[max(0, i + 1 - size) : i + 1]
        should_trip = len(last) >= size and sum(last) / len(last) >= threshold
        assert (b.state is BreakerState.OPEN) == should_trip
        if should_trip:
            break
