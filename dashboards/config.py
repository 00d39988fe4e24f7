"""The export config: every threshold the dashboards and alerts use, and where each came from."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

from resilience._config import Config, non_negative, positive, rule
from resilience.metrics.catalog import LATENCY_BUCKETS

__all__ = ["DEFAULT", "ExportConfig"]

DEFAULT = "ExportConfig default"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,29}")
_PREFIX = re.compile(r"[A-Z][A-Za-z0-9]{0,39}")
_URL = re.compile(r"https?://[^\s\"'<>{}]+")


def _ratio(v: float) -> bool:
    return 0 < v <= 1


def _edges(v: tuple[str, ...]) -> bool:
    return all(s and s.isprintable() for s in v)


def _url(v: str) -> bool:
    return _URL.fullmatch(v) is not None


@dataclass(frozen=True, slots=True)
class ExportConfig(Config):
    """Thresholds and links for one tuned policy watched on ``edges`` (mixin style).

    Seconds for every time; rates and ratios as fractions. ``sources`` maps a
    field to a sentence saying where its value came from (the tuned config
    field, or the SLO); a field without one is an ``ExportConfig`` default.
    ``from_policies`` fills it from resilience configs.

    - breaker: ``failure_rate_threshold``; ``max_open_wait`` (the longest open
      wait the breaker can choose); the stuck-open alert fires after
      ``open_wait_multiple`` x ``max_open_wait`` with at least ``open_fraction``
      of instances open; flapping = ``flapping_cycles`` trips *and* recoveries
      within ``flapping_window``;
    - timeouts: ``attempt_timeout`` (per attempt) and ``timeout`` (overall);
      the request-latency p99 alert and panel use ``timeout`` (else
      ``attempt_timeout``);
    - retries: ``amplification_bound`` (attempts per request the budget
      sustains); ``budget_floor``: tokens below which a retry cannot be paid
      (None: no budget, no alert);
    - ratios: ``timeout_ratio`` (timeouts per attempt), ``fallback_ratio`` and
      ``admission_ratio`` (per request);
    - SLO: ``slo_target`` availability and ``slo_latency`` (a histogram bucket
      bound): a request is good if it succeeded within ``slo_latency``;
    - ``rate_window`` and ``alert_for`` for the non-SLO alerts;
    - ``tiers``: the service tiers of a multi-tier graph to watch (the tier
      label); a "Tiers" row is added to the dashboards when it names any;
    - ``grafana_url`` and ``runbook_url`` for alert links; ``slug`` names
      the dashboards (uid ``rwb-<slug>``) and rule groups; ``alert_prefix``
      starts every alert name.
    """

    edges: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    slug: str = field(
        default="resilience",
        metadata=rule(
            lambda v: _SLUG.fullmatch(v) is not None,
            "must be 1-30 characters of a-z, 0-9 and -, starting with a letter or digit",
        ),
    )
    title: str = field(default="Resilience", metadata=rule(lambda v: bool(v.strip()), "must not be empty"))
    failure_rate_threshold: float = field(default=0.5, metadata=rule(_ratio, "must be in (0, 1]"))
    max_open_wait: float = field(default=60.0, metadata=rule(positive, "must be > 0 and finite"))
    open_wait_multiple: float = field(
        default=3.0, metadata=rule(lambda v: math.isfinite(v) and v >= 1, "must be >= 1 and finite")
    )
    open_fraction: float = field(default=0.5, metadata=rule(_ratio, "must be in (0, 1]"))
    flapping_window: float = field(default=1800.0, metadata=rule(positive, "must be > 0 and finite"))
    flapping_cycles: int = field(default=3, metadata=rule(lambda v: v >= 1, "must be >= 1"))
    attempt_timeout: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    timeout: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    amplification_bound: float = field(
        default=1.2, metadata=rule(lambda v: math.isfinite(v) and v >= 1, "must be >= 1 and finite")
    )
    budget_floor: float | None = field(default=None, metadata=rule(positive, "must be > 0 and finite"))
    timeout_ratio: float = field(default=0.05, metadata=rule(_ratio, "must be in (0, 1]"))
    fallback_ratio: float = field(default=0.01, metadata=rule(_ratio, "must be in (0, 1]"))
    admission_ratio: float = field(default=0.01, metadata=rule(_ratio, "must be in (0, 1]"))
    slo_target: float = field(default=0.999, metadata=rule(lambda v: 0 < v < 1, "must be in (0, 1)"))
    slo_latency: float = field(
        default=1.0,
        metadata=rule(lambda v: v in LATENCY_BUCKETS,
                      f"must be a histogram bucket bound: {', '.join(map(str, LATENCY_BUCKETS))}"),
    )  # fmt: skip
    rate_window: float = field(default=300.0, metadata=rule(positive, "must be > 0 and finite"))
    alert_for: float = field(default=300.0, metadata=rule(non_negative, "must be >= 0 and finite"))
    grafana_url: str = field(
        default="http://localhost:3000",
        metadata=rule(_url, "must be an http(s) URL without spaces or quotes"),
    )
    runbook_url: str = field(
        default="https://runbooks.example.com/resilience",
        metadata=rule(_url, "must be an http(s) URL without spaces or quotes"),
    )
    alert_prefix: str = field(default="Resilience", metadata=rule(lambda v: _PREFIX.fullmatch(v) is not None,
                              "must be CamelCase: a capital letter, then letters and digits"))  # fmt: skip
    sources: tuple[tuple[str, str], ...] = ()

    def _cross_checks(self) -> None:
        if not self.edges:
            raise self._error("edges", "must name at least one edge (the pipeline name label)")
        if not _edges(self.edges):
            raise self._error("edges", "must be non-empty names of printable characters")
        if len(set(self.edges)) != len(self.edges):
            raise self._error("edges", "must not repeat a name")
        if not _edges(self.tiers):
            raise self._error("tiers", "must be non-empty names of printable characters")
        if len(set(self.tiers)) != len(self.tiers):
            raise self._error("tiers", "must not repeat a name")
        if self.timeout is None and self.attempt_timeout is None:
            raise self._error(
                "timeout", "set timeout or attempt_timeout: the latency panels and alert need one"
            )
        if (
            self.attempt_timeout is not None
            and self.timeout is not None
            and self.attempt_timeout > self.timeout
        ):
            raise self._error("attempt_timeout", f"must be <= timeout ({self.timeout})")
        object.__setattr__(self, "grafana_url", self.grafana_url.rstrip("/"))
        object.__setattr__(self, "sources", tuple((str(k), str(v)) for k, v in self.sources))
        names = {f.name for f in dataclasses.fields(self)} - {"sources"}
        for key, _ in self.sources:
            if key not in names:
                raise self._error("sources", f"names unknown field {key!r}")

    def source(self, name: str) -> str:
        """Where the value of field ``name`` came from."""
        return dict(self.sources).get(name, DEFAULT)

    @property
    def latency_budget(self) -> float:
        """The end-to-end budget the request-latency p99 is held to: ``timeout``, else ``attempt_timeout``."""
        budget = self.timeout if self.timeout is not None else self.attempt_timeout
        assert budget is not None  # _cross_checks
        return budget

    @property
    def latency_budget_field(self) -> str:
        return "timeout" if self.timeout is not None else "attempt_timeout"

    @property
    def stuck_open_after(self) -> float:
        """Seconds open before the stuck-open alert fires."""
        return self.open_wait_multiple * self.max_open_wait

    @property
    def error_budget(self) -> float:
        """The SLO's allowed bad share, ``1 - slo_target``."""
        return 1 - self.slo_target
