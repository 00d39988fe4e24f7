"""Runners that play a script (``scripted``) through the front-door forms, for trace parity.

Each builds the front-door form from the same settings as the pipeline it is
handed (attempts, bounds, backoff, the same seeded rng), on the same manual
clock, with the drivers' HTTP result classifier and ``wrap=True`` so a give-up
raises the drivers' ``RequestFailed`` classes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from scripted import Reply, Response, Run, _Player

import resilience
from resilience.core import ManualClock, Pipeline, TraceEvent, http_result_classifier
from resilience.retrying import RetryOptions

ON = (ConnectionError, TimeoutError)  # the scripted transient errors; ValueError stays permanent


def _options(pipeline: Pipeline, clock: ManualClock, trace: list[TraceEvent]) -> RetryOptions:
    retry = pipeline.retry
    return RetryOptions(
        attempts=retry.max_attempts,
        attempt_timeout=retry.attempt_timeout,
        timeout=retry.timeout,
        wait=retry.backoff,
        max_retry_after=retry.max_retry_after,
        rng=pipeline.rng,
        name=pipeline.name,
        clock=clock,
        wrap=True,
        pass_timeout="timeout",
        on_result=http_result_classifier(pipeline.classifier, wall=clock),
        listeners=[lambda source, event: trace.append(event)],
    )


def _sync(form: str, pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock) -> Run:
    player = _Player(script, clock)
    trace: list[TraceEvent] = []
    options = _options(pipeline, clock, trace)

    def call(timeout: float | None = None) -> Response:
        return player.take(timeout).answer()

    value: Response | None = None
    error: BaseException | None = None
    try:
        if form == "decorator":
            value = resilience.retry(on=ON, **options)(call)()
        elif form == "caller":
            value = resilience.RetryingCaller(on=ON, **options)(call)
        else:
            del options["pass_timeout"]
            for attempt in resilience.attempts(on=ON, **options):
                with attempt:
                    attempt.result = call(attempt.timeout)
            value = attempt.result
    except Exception as exc:
        error = exc
    return Run(trace, value, error, player.calls, list(clock.sleeps))


def _async(form: str, pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock) -> Run:
    player = _Player(script, clock)
    trace: list[TraceEvent] = []
    options = _options(pipeline, clock, trace)

    async def call(timeout: float | None = None) -> Response:
        await asyncio.sleep(0)
        reply = player.take(timeout)
        await asyncio.sleep(0)
        return reply.answer()

    async def main() -> Run:
        value: Response | None = None
        error: BaseException | None = None
        try:
            if form == "decorator":
                value = await resilience.retry(on=ON, **options)(call)()
            elif form == "caller":
                value = await resilience.AsyncRetryingCaller(on=ON, **options)(call)
            else:
                del options["pass_timeout"]
                async for attempt in resilience.attempts(on=ON, **options):
                    async with attempt:
                        attempt.result = await call(attempt.timeout)
                value = attempt.result
        except Exception as exc:
            error = exc
        return Run(trace, value, error, player.calls, list(clock.sleeps))

    return asyncio.run(main())


def _runner(form: str, is_async: bool) -> Any:
    def run(pipeline: Pipeline, script: Sequence[Reply], clock: ManualClock, **options: Any) -> Run:
        assert not options
        return (_async if is_async else _sync)(form, pipeline, script, clock)

    return run


FRONT_DOOR_RUNNERS = {
    f"{form}{'_async' if is_async else ''}": _runner(form, is_async)
    for form in ("decorator", "caller", "for")
    for is_async in (False, True)
}
