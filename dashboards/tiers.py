"""The "Tiers" row: per-tier offered load, answers, utilisation, queues, rejections, timeouts,
fallbacks and useful work of a multi-tier service graph (the ``resilience_tier_*`` families).

Queries are built from the metric catalog like every other panel's; the row is added to both
dashboards when ``ExportConfig.tiers`` names the tiers to watch.
"""

from __future__ import annotations

from dataclasses import dataclass

from resilience.metrics.catalog import metric

from .config import ExportConfig
from .panels import Panel, Section
from .promql import Scope, regex_escape

__all__ = [
    "TIER_PANEL_IDS",
    "TIER_ROW_ID",
    "TIER_ROW_TITLE",
    "busy_seconds",
    "offered",
    "queue_length",
    "rejections",
    "responses",
    "rows",
    "scope",
    "tier_fallbacks",
    "tier_timeouts",
    "useful_work_ratio",
    "utilisation",
]

REQUESTS = metric("resilience_tier_requests_total").name
RESPONSES = metric("resilience_tier_responses_total").name
REJECTIONS = metric("resilience_tier_rejections_total").name
TIMEOUTS = metric("resilience_tier_timeouts_total").name
FALLBACKS = metric("resilience_tier_fallbacks_total").name
COMPLETED = metric("resilience_tier_completed_total").name
USEFUL = metric("resilience_tier_useful_work_total").name
BUSY = metric("resilience_tier_busy_seconds_total").name
WORKERS = metric("resilience_tier_workers").name
QUEUE = metric("resilience_tier_queue_length").name

RATE = "$__rate_interval"
TIER_ROW_TITLE = "Tiers"
TIER_ROW_ID = 105
TIER_PANEL_IDS: dict[str, int] = {
    "tier_offered": 21,
    "tier_responses": 22,
    "tier_utilisation": 23,
    "tier_queue": 24,
    "tier_rejections": 25,
    "tier_timeouts": 26,
    "tier_fallbacks": 27,
    "tier_useful_work": 28,
}
"""Stable panel ids of the Tiers row, by key (after the edge panels' ``PANEL_IDS``)."""


@dataclass(frozen=True, slots=True)
class TierPanel(Panel):
    """A panel of the Tiers row (its id from ``TIER_PANEL_IDS``)."""

    @property
    def id(self) -> int:
        return TIER_PANEL_IDS[self.key]


@dataclass(frozen=True, slots=True)
class TierSection(Section):
    """The Tiers row heading and its panels."""

    @property
    def id(self) -> int:
        return TIER_ROW_ID


def scope(tiers: tuple[str, ...]) -> Scope:
    """Exactly the tiers ``tiers`` (an escaped alternation) and the chosen run (``.*`` in production)."""
    return Scope.of(("tier", "=~", "|".join(regex_escape(t) for t in tiers)), ("run", "=~", "$run"))


def _sum_rate(s: Scope, w: str, name: str, by: str = "tier", **labels: str) -> str:
    return f"sum by ({by}) (rate({s.select(name, **labels)}[{w}]))"


def offered(s: Scope, w: str) -> str:
    """Requests reaching each tier per second (every caller's attempts): the offered load."""
    return _sum_rate(s, w, REQUESTS)


def responses(s: Scope, w: str) -> str:
    """Answers per second by tier and result (success/error)."""
    return _sum_rate(s, w, RESPONSES, by="tier, result")


def busy_seconds(s: Scope, w: str) -> str:
    """Busy worker-seconds per second, summed over each tier's replicas (mean busy workers)."""
    return _sum_rate(s, w, BUSY)


def utilisation(s: Scope, w: str) -> str:
    """Busy workers over workers per tier (tiers with unlimited workers have no workers series)."""
    return f"{busy_seconds(s, w)} / sum by (tier) ({s.select(WORKERS)})"


def queue_length(s: Scope) -> str:
    """Requests waiting in each tier's queues, summed over its replicas."""
    return f"sum by (tier) ({s.select(QUEUE)})"


def rejections(s: Scope, w: str) -> str:
    """Requests refused without service per second, by tier and cause."""
    return _sum_rate(s, w, REJECTIONS, by="tier, cause")


def tier_timeouts(s: Scope, w: str) -> str:
    """Timeouts fired at each tier per second, by source and phase."""
    return _sum_rate(s, w, TIMEOUTS, by="tier, source, phase")


def tier_fallbacks(s: Scope, w: str) -> str:
    """Degraded answers per second, by tier and fallback."""
    return _sum_rate(s, w, FALLBACKS, by="tier, fallback")


def useful_work_ratio(s: Scope, w: str) -> str:
    """Answers a waiting caller used over answers served to the end, per tier."""
    return f"{_sum_rate(s, w, USEFUL)} / {_sum_rate(s, w, COMPLETED)}"


def section(s: Scope) -> Section:
    """The Tiers row with every selector carrying ``s``."""
    return TierSection(TIER_ROW_TITLE, (
        TierPanel("tier_offered", "Offered load per tier",
                  "Requests reaching each tier per second: every attempt of every caller (clients and "
                  "upstream tiers), admitted or not.", "reqps",
                  (("{{tier}}", offered(s, RATE)),)),
        TierPanel("tier_responses", "Answers per tier",
                  "Answers each tier sent per second, by result; degraded answers count as success.",
                  "reqps", (("{{tier}} {{result}}", responses(s, RATE)),)),
        TierPanel("tier_utilisation", "Worker utilisation",
                  "Busy worker-seconds per second over workers, per tier (a worker is held while the "
                  "tier waits for its downstream calls). Tiers with unlimited workers are not drawn.",
                  "percentunit", (("{{tier}}", utilisation(s, RATE)),),
                  thresholds=((0.8, "orange"), (0.95, "red")), max=1.0),
        TierPanel("tier_queue", "Queue length",
                  "Requests waiting for a worker, summed over each tier's replicas.", "short",
                  (("{{tier}}", queue_length(s)),)),
        TierPanel("tier_rejections", "Rejections by cause",
                  "Requests refused without service per second: at the gate (connection_refused, "
                  "rate_limited, bulkhead_full, concurrency_limited) or by a replica (queue_full, "
                  "refused).", "reqps", (("{{tier}} {{cause}}", rejections(s, RATE)),)),
        TierPanel("tier_timeouts", "Timeouts by source and phase",
                  "Timeouts fired at each tier per second: its calls' attempt timers and deadlines "
                  "found passed, by source (gateway/backend) and phase.", "reqps",
                  (("{{tier}} {{source}} {{phase}}", tier_timeouts(s, RATE)),)),
        TierPanel("tier_fallbacks", "Fallbacks per tier",
                  "Requests each tier answered degraded per second, by fallback (stale cache entry, "
                  "an edge's fallback, compensation queue, flood diversion).", "reqps",
                  (("{{tier}} {{fallback}}", tier_fallbacks(s, RATE)),)),
        TierPanel("tier_useful_work", "Useful-work ratio",
                  "Answers a caller still waiting used, over answers served to the end: work abandoned "
                  "by a fan-out or finished after its caller timed out is wasted.", "percentunit",
                  (("{{tier}}", useful_work_ratio(s, RATE)),), base_color="red",
                  thresholds=((0.9, "green"),)),
    ))  # fmt: skip


def rows(config: ExportConfig) -> tuple[Section, ...]:
    """The Tiers row for ``config.tiers``, or nothing when it names none."""
    if not config.tiers:
        return ()
    return (section(scope(config.tiers)),)
