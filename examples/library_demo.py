"""A flaky function retried with full jitter, on a manual clock: no real waiting."""

from __future__ import annotations

import random

from resilience.core import (
    ExponentialBackoff,
    FullJitter,
    ManualClock,
    Pipeline,
    RetryConfig,
    SyncDriver,
    TraceEvent,
)


def main() -> None:
    clock = ManualClock()
    trace: list[TraceEvent] = []
    pipeline = Pipeline(
        RetryConfig(max_attempts=4, backoff=ExponentialBackoff(base=0.1, cap=2.0, jitter=FullJitter())),
        rng=random.Random(7),
        name="demo",
    )
    driver = SyncDriver(pipeline, clock=clock, sleep=clock.sleep, trace=trace)
    answers = iter([ConnectionResetError("reset by peer"), ConnectionRefusedError("refused"), "ok"])

    def flaky() -> str:
        clock.advance(0.02)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    print("result:", driver.call(flaky))
    for e in trace:
        print(f"t={e.time:7.4f}  {e.kind.value:8s} #{e.attempt} {e.label:10s} {e.value:.4f} {e.evidence}")


if __name__ == "__main__":
    main()
