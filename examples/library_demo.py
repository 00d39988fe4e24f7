"""A short real run of the library: a flaky function retried with full jitter."""

from __future__ import annotations

import random

from resilience import ExponentialBackoff, FullJitter, ManualClock, Pipeline, RetryConfig


def main() -> None:
    clock = ManualClock()
    pipeline = Pipeline(
        RetryConfig(max_attempts=4, backoff=ExponentialBackoff(base=0.1, cap=2.0, jitter=FullJitter())),
        rng=random.Random(7),
    )
    failures = iter([True, True, False])
    trace: list = []
    ex = pipeline.begin(clock.now(), trace=trace)
    step = ex.next(clock.now())
    from resilience import Attempt, Outcome, Wait

    while isinstance(step, (Attempt, Wait)):
        if isinstance(step, Wait):
            clock.sleep(step.delay)
            step = ex.next(clock.now())
            continue
        clock.advance(0.02)
        outcome = Outcome.error("http_503", retryable=True) if next(failures) else Outcome.success()
        step = ex.next(clock.now(), outcome)
    for event in trace:
        print(f"t={event.time:7.4f}  {event.kind.value:8s} attempt={event.attempt} {event.label} {event.value:.4f}")
    print("result:", step)


if __name__ == "__main__":
    main()
