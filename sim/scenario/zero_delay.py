"""Models that would re-issue requests without simulated time passing (refused when loaded).

A closed-loop user with zero think time starts its next request the moment the
last one ends. If a request can also end at that same instant (an open breaker
rejects it, or a service answers it at once over a zero-latency path and no
retry waits), the simulation re-issues requests forever at one simulated time:
synchronously that recurses without bound, scheduled at delay 0 it hangs.
"""

from __future__ import annotations

from typing import Any, Protocol

from resilience._config import ConfigError
from resilience.classify import Classifier, ClassifierConfig
from resilience.retry import RetryConfig

__all__ = ["ZeroDelayError", "instant_end", "zero_delay_problems"]


class ErrorSpec(Protocol):
    """What this check reads of a scenario's ``ErrorSpec`` (the scenario module depends on this one)."""

    @property
    def probability(self) -> float: ...
    @property
    def status(self) -> int | None: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def sqlstate(self) -> str | None: ...
    @property
    def refuse(self) -> bool: ...
    @property
    def fast(self) -> bool: ...


class ClientGroup(Protocol):
    """What this check reads of a scenario's ``ClientGroup``."""

    @property
    def target(self) -> str: ...
    @property
    def link(self) -> str | None: ...
    @property
    def retry(self) -> RetryConfig: ...
    @property
    def breaker(self) -> Any: ...
    @property
    def budget(self) -> Any: ...
    @property
    def classifier(self) -> ClassifierConfig | None: ...


class ZeroDelayError(ConfigError):
    """A client group's users can re-issue requests without simulated time passing."""


def zero_delay_problems(sc: Any) -> list[ConfigError]:
    """One problem per client group whose users can re-issue a request with no simulated delay."""
    out: list[ConfigError] = []
    for gname, g in sc.clients.items():
        wl = g.workload
        repeats = wl.kind == "closed" or (wl.kind == "fixed" and wl.requests > 1)
        if not repeats or not wl.think.can_be_zero():
            continue
        why = instant_end(sc, g)
        if why is not None:
            out.append(
                ZeroDelayError(
                    "Scenario",
                    f"clients.{gname}.workload.think",
                    wl.think.to_dict(),
                    f"must not be 0 here: a request can end with no simulated delay ({why}), "
                    "so users would re-issue requests forever at one instant",
                )
            )
    return out


def instant_end(sc: Any, g: ClientGroup) -> str | None:
    """Why a request of group ``g`` can end at the instant it starts, or None if it always takes time."""
    if g.breaker is not None:
        return "an open breaker rejects at once"
    path = "no link"
    if g.link is not None:
        link = sc.links.get(g.link)
        if link is None or not link.latency.can_be_zero():
            return None
        path = f"links.{g.link} latency can be 0"
    svc = sc.services.get(g.target)
    if svc is None:
        return None
    where = f"services.{g.target}"
    if svc.service_time.can_be_zero():
        return f"{path}, {where} service_time can be 0"
    answers: list[tuple[str, str, ErrorSpec | None]] = []  # (description, evidence, spec)
    for i, f in enumerate(sc.faults):
        if f.target != g.target:
            continue
        if f.kind == "outage":
            answers.append((f"{where} refuses connections during faults[{i}]", "refused", None))
        elif f.kind == "error_burst" and (f.error.refuse or f.error.fast):
            answers.append((f"faults[{i}] answers at once", "spec", f.error))
    for i, spec in enumerate(svc.errors):
        if spec.probability > 0 and (spec.refuse or spec.fast):
            answers.append((f"{where}.errors[{i}] answers at once", "spec", spec))
    if svc.queue >= 0 and svc.workers > 0:
        answers.append((f"{where} answers queue_full at once (queue = {svc.queue})", "queue_full", None))
    for text, evidence, spec in answers:
        ends = _ends_after_instant_answer(g, evidence, spec)
        if ends is not None:
            return f"{path}, {text}, {ends}"
    return None


def _ends_after_instant_answer(g: ClientGroup, evidence: str, spec: ErrorSpec | None) -> str | None:
    """Why the request ends (or retries) without waiting after an instant answer, or None."""
    retry = g.retry
    if retry.max_attempts == 1:
        return "max_attempts = 1"
    if g.budget is not None:
        return "the retry budget can refuse the retry at once"
    cls = Classifier(g.classifier)
    if evidence == "refused" or (spec is not None and spec.refuse):
        outcome = cls.exception(ConnectionRefusedError())
    elif evidence == "queue_full":
        outcome = cls.http(503)
    elif spec is not None and spec.sqlstate is not None:
        outcome = cls.sqlstate(spec.sqlstate)
    else:
        assert spec is not None and spec.status is not None
        outcome = cls.http(spec.status)
        if spec.retry_after == 0 and retry.honor_retry_after and outcome.retryable:
            return "Retry-After: 0 is honoured"
    if not outcome.retryable:
        return f"{outcome.evidence} is not retried"
    if retry.backoff.raw(1) == 0:
        return "the first backoff is 0"
    return None
