"""Two data sets for the real-Prometheus tests: a simulated incident and production-shaped series.

``simulated`` runs the flagship scenario (shortened) and returns its OpenMetrics
series. ``production`` drives real HTTP calls on loopback through the sync
driver (retries, breaker, token-bucket budget, a rate limiter) into the
library's prometheus_client exporter, scrapes the registry a few times and
writes the scrapes as one OpenMetrics text with stamped times: one series per
process, a one-hot breaker state, no run labels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

import sim
from resilience.core import (
    BreakerConfig,
    CircuitBreaker,
    ConstantBackoff,
    Pipeline,
    RequestFailed,
    RetryConfig,
    SyncDriver,
    TokenBucketBudget,
    TokenBucketBudgetConfig,
    TokenBucketConfig,
    TokenBucketRateLimiter,
)
from resilience.metrics.prometheus import PrometheusExporter

SCENARIO = Path(__file__).parents[2] / "scenarios" / "retry_storm_resilient.toml"
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+) (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class DataSet:
    """OpenMetrics text, its edge and run label (None without one), time range and fault window (Unix s)."""

    text: str
    edge: str
    run: str | None
    start: float
    end: float
    scrape_interval: float
    fault: tuple[float, float]


@dataclass(frozen=True)
class Point:
    name: str
    labels: dict[str, str]
    value: float
    time: float


def points(text: str) -> list[Point]:
    """Every sample of an OpenMetrics text with a timestamp."""
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and not line.startswith("#"):
            labels = dict(LABEL.findall(m.group(2) or ""))
            out.append(Point(m.group(1), labels, float(m.group(3)), float(m.group(4))))
    return out


def simulated(duration: float = 50.0, seed: int = 1) -> DataSet:
    """The flagship scenario cut to ``duration`` s; edge and run label read from its series."""
    scenario = sim.load_scenario(SCENARIO)
    scenario = dataclasses.replace(scenario, duration=duration)
    text = sim.run(scenario, seed).series
    pts = points(text)
    requests = [p for p in pts if p.name == "resilience_requests_total"]
    edges = {p.labels["name"] for p in requests}
    assert len(edges) == 1, edges
    runs = {p.labels.get("run") for p in requests}
    assert len(runs) == 1, runs
    times = sorted({p.time for p in pts})
    epoch = float(scenario.epoch)
    assert 0 <= times[0] - epoch <= scenario.scrape_interval, (times[0], epoch)
    (fault,) = scenario.faults
    window = (epoch + fault.start, epoch + fault.start + fault.duration)
    return DataSet(text, edges.pop(), runs.pop(), times[0], times[-1], scenario.scrape_interval, window)


# -- production-shaped --------------------------------------------------------


@dataclass
class Behaviour:
    """What the loopback backend does: answer 500 to every ``fail``-th request, stall every ``slow``-th."""

    fail: int = 0
    slow: int = 0
    delay: float = 0.08


@contextmanager
def backend() -> Iterator[tuple[str, Behaviour]]:
    """A loopback HTTP server answering 200, 500 or a late 200 as ``Behaviour`` says."""
    behaviour = Behaviour()
    counter = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            n = next(counter)
            if behaviour.fail and n % behaviour.fail == 0:
                self.send_response(500)
            else:
                if behaviour.slow and n % behaviour.slow == 0:
                    time.sleep(behaviour.delay)
                self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up on a stalled answer
                self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", behaviour
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics(scrapes: list[tuple[float, list[Metric]]]) -> str:
    """Scrapes of a registry, merged family by family, each sample stamped with its scrape time."""
    families: dict[str, tuple[str, str, list[str]]] = {}
    for stamp, metrics in scrapes:
        for metric in metrics:
            kind = metric.type if metric.type in ("counter", "gauge", "histogram") else "unknown"
            _, _, lines = families.setdefault(metric.name, (kind, metric.documentation, []))
            for s in metric.samples:
                if s.name.endswith("_created"):
                    continue
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
                lines.append(f"{s.name}{{{labels}}} {floatToGoString(s.value)} {stamp:.3f}")
    out = []
    for name, (kind, doc, lines) in sorted(families.items()):
        if lines:
            out += [f"# TYPE {name} {kind}", f"# HELP {name} {_escape(doc)}", *lines]
    return "\n".join([*out, "# EOF", ""])


def production(edge: str, end: float, scrape_interval: float = 15.0) -> DataSet:
    """Real calls on loopback through retry + breaker + budget + rate limiter, scraped 8 times.

    Phases: healthy (one stall at the end of the second, so the timeout series
    exists before the incident, as ``rate`` needs), incident (500s and stalls past the
    attempt timeout: retries, timeouts, the breaker opens, the budget drains,
    the limiter refuses bursts, failed requests are served from a cache
    tier; two scrapes), healthy again. The scrapes are stamped ``scrape_interval`` apart,
    ending at ``end``.
    """
    registry = CollectorRegistry()
    exporter = PrometheusExporter(registry)
    breaker = CircuitBreaker(
        BreakerConfig(window_size=10, minimum_calls=5, failure_rate_threshold=0.5, wait_in_open=0.3),
        name=edge,
    )
    budget = TokenBucketBudget(TokenBucketBudgetConfig(capacity=30, retry_cost=5, timeout_cost=10), name=edge)
    exporter.watch_breaker(breaker)
    exporter.watch_budget(edge, lambda: budget.available(exporter.clock.now()))
    limiter = TokenBucketRateLimiter(
        TokenBucketConfig(rate=200.0, burst=5.0), name=edge, sink=exporter
    )
    retry = RetryConfig(max_attempts=3, attempt_timeout=0.04, backoff=ConstantBackoff(base=0.001))
    pipeline = Pipeline(
        retry, breaker=breaker, budget=budget, listeners=[exporter], name=edge, rng=random.Random(3)
    )
    driver = SyncDriver(pipeline, pass_timeout="timeout")
    fallbacks = exporter.metric("resilience_fallbacks_total")
    phases = [
        (0, 0, 40.0),
        (0, 40, 40.0),
        (3, 4, 400.0),
        (3, 4, 400.0),
        (0, 0, 40.0),
        (0, 0, 40.0),
        (0, 0, 40.0),
    ]
    scrapes: list[tuple[float, list[Metric]]] = []
    start = end - scrape_interval * len(phases)
    logical = 0.0  # the limiter's clock: requests arrive at the phase's rate

    def get(url: str, timeout: float | None = None) -> bytes:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body: bytes = r.read()
            return body

    with backend() as (url, behaviour):
        scrapes.append((start, list(registry.collect())))
        for i, (fail, slow, rate) in enumerate(phases):
            if fail == 0 and breaker.state.value == "open":
                time.sleep(0.3)  # the incident is over: let the open wait end
            behaviour.fail, behaviour.slow = fail, slow
            for _ in range(40):
                logical += 1.0 / rate
                if not limiter.try_acquire(logical):
                    continue
                try:
                    driver.call(get, url)
                except (RequestFailed, urllib.error.URLError, TimeoutError, OSError):
                    fallbacks.labels(edge, "cache").inc()
            scrapes.append((start + scrape_interval * (i + 1), list(registry.collect())))
    text = openmetrics(scrapes)
    fault = (start + 2 * scrape_interval, start + 4 * scrape_interval)
    return DataSet(text, edge, None, start, end, scrape_interval, fault)
