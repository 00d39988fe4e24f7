"""The export config of a scenario: every threshold taken from its client policies and SLO."""

from __future__ import annotations

import bisect
import dataclasses
import re
from typing import Any

from dashboards import ExportConfig, from_policies
from resilience.breaker import BreakerConfig
from resilience.metrics.catalog import LATENCY_BUCKETS
from sim.scenario.spec import ClientGroup, Fault, Scenario

__all__ = ["ExportError", "edge", "export_config", "fault_edges", "slug"]

POLICY_FIELDS = ("retry", "breaker", "budget")


class ExportError(ValueError):
    """A scenario cannot be exported: ``<source>: <dotted.path>=<value>: <rule>``."""


def edge(group: str, client: ClientGroup) -> str:
    """The edge label of a client group: ``<group>-><target>``."""
    return f"{group}->{client.target}"


def slug(name: str) -> str:
    """A dashboard slug from a scenario name: lower case, a-z 0-9 and -, at most 30 characters."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:30].strip("-")
    return text or "resilience"


def fault_edges(scenario: Scenario, fault: Fault) -> list[str]:
    """Edges whose calls a fault hits: groups calling its target service, or sending over its target link."""
    return [
        edge(name, g)
        for name, g in scenario.clients.items()
        if g.target == fault.target or (g.link is not None and g.link == fault.target)
    ]


def _slo_latency(scenario: Scenario, where: str) -> tuple[float, str]:
    wanted = scenario.slo_latency
    i = bisect.bisect_left(LATENCY_BUCKETS, wanted - 1e-12)
    if i == len(LATENCY_BUCKETS):
        raise ExportError(
            f"{where}: slo_latency={wanted}: must be <= {LATENCY_BUCKETS[-1]} "
            "(the largest histogram bucket bound)"
        )
    bound = LATENCY_BUCKETS[i]
    if abs(bound - wanted) <= 1e-12:
        return bound, "Scenario.slo_latency"
    return bound, f"Scenario.slo_latency={wanted} rounded up to the histogram bucket bound {bound}"


def export_config(
    scenario: Scenario, *, source: str = "<scenario>", slo_target: float = 0.999, **settings: Any
) -> ExportConfig:
    """The ``ExportConfig`` of ``scenario``: every client group is an edge, all sharing one policy.

    Breaker, timeouts and retry budget come from the groups' configs (``dashboards.from_policies``),
    the SLO latency from ``Scenario.slo_latency`` (rounded up to a histogram bucket bound);
    ``settings`` override any other field (``grafana_url``, ``alert_for``, a mistuned threshold …).
    """
    if not scenario.clients:
        raise ExportError(f"{source}: clients={{}}: must name at least one client group to watch")
    (first, base), *rest = scenario.clients.items()
    for name, group in rest:
        for f in POLICY_FIELDS:
            if getattr(group, f) != getattr(base, f):
                raise ExportError(
                    f"{source}: clients.{name}.{f}={getattr(group, f)!r}: must equal clients.{first}.{f} "
                    "(one export watches edges that share one policy)"
                )
    if base.retry.attempt_timeout is None and base.retry.timeout is None:
        raise ExportError(
            f"{source}: clients.{first}.retry.timeout=None: set timeout or attempt_timeout "
            "(the latency panels and alert need a budget)"
        )
    breaker = base.breaker if isinstance(base.breaker, BreakerConfig) else BreakerConfig()
    slo_latency, slo_src = _slo_latency(scenario, source)
    owned = {"slug": slug(scenario.name), "title": scenario.name}
    extra_sources = [*settings.pop("sources", ())]
    config = from_policies(
        [edge(n, g) for n, g in scenario.clients.items()],
        breaker=breaker,
        retry=base.retry,
        budget=base.budget,
        slo_target=slo_target,
        slo_latency=slo_latency,
        **{**owned, **settings},
    )
    prefix = f"clients.{first}: " if base.breaker is not None else ""
    sources = []
    for key, text in config.sources:
        if key == "slo_latency":
            text = slo_src
        elif key in ("failure_rate_threshold", "max_open_wait") and base.breaker is None:
            text = f"{text} default (clients.{first} has no breaker)"
        elif text.startswith(("Breaker", "Retry", "TokenBucket", "Ratio", "Grpc", "Adaptive", "1 +", "one ")):
            text = (prefix or f"clients.{first}: ") + text
        sources.append((key, text))
    if "slo_target" not in settings:
        sources.append(("slo_target", "export option slo_target (the scenario has no availability target)"))
    sources = [(k, v) for k, v in sources if not (k == "slo_target" and v == "SLO availability target")]
    return dataclasses.replace(config, sources=(*sources, *extra_sources))
