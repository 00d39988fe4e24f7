"""16 threads hammer one breaker with permits held across state changes: leases and generations.

Each thread acquires permits and settles them later, in random order, so many
outcomes arrive after the breaker moved on (late: from an earlier
generation). A recording proxy (``leases.py``) counts every permit issued and
settled and, per generation, the probe permits granted and released.
Afterwards: no permit unsettled or settled twice; the breaker counted every
settlement (recorded + ignored + released) and some as late; and no half-open
round granted more probes than its limit plus its own probes given back
(``release``) — a late probe's release must not free a slot in a later round.

Negative control: a proxy that settles probe permits as if they belonged to
the current generation (a breaker without generations) must break the probe
bound.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from concurrency import hammer
from leases import LeaseLedger, RecordingBreaker

from resilience.core import BreakerConfig, CircuitBreaker, Outcome, Permit

THREADS = 16
CALLS = 4_000
DT = 0.001
PROBES = 3

ERR = Outcome.error("http_503", retryable=True)
OK = Outcome.success()


class ProbeBook:
    """Probe permits granted and released, by the generation they were granted in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.granted: Counter[int] = Counter()
        self.released: Counter[int] = Counter()

    def add(self, book: Counter[int], generation: int) -> None:
        with self._lock:
            book[generation] += 1

    def over_the_limit(self) -> dict[int, tuple[int, int]]:
        """Generations whose probes granted exceed the limit plus their own releases."""
        return {
            g: (n, self.released[g]) for g, n in sorted(self.granted.items()) if n > PROBES + self.released[g]
        }


class ProbeRecordingBreaker(RecordingBreaker):
    """Also books probe permits by generation; ``blind`` settles probes as the current generation."""

    def __init__(self, real: CircuitBreaker, ledger: LeaseLedger, probes: ProbeBook, *, blind: bool) -> None:
        super().__init__(real, ledger)
        self.breaker = real
        self.probes = probes
        self.blind = blind

    def try_acquire(self, now: float) -> Permit | None:
        permit = super().try_acquire(now)
        if permit is not None and permit.probe:
            self.probes.add(self.probes.granted, permit.generation)
        return permit

    def release(self, permit: Permit, now: float) -> None:
        if permit.probe:
            self.probes.add(self.probes.released, permit.generation)
        real = self.ledger.settle("permit", permit, "release")
        if real is not None:
            if self.blind and real.probe:
                real = Permit(self.breaker.generation, True)  # the defect: generation-blind settlement
            self.breaker.release(real, now)


@dataclass
class Tally:
    acquired: int = 0
    refused: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def run_once(
    *, blind: bool, calls: int = CALLS
) -> tuple[CircuitBreaker, LeaseLedger, ProbeBook, list[Tally]]:
    breaker = CircuitBreaker(
        BreakerConfig(
            window_size=20,
            minimum_calls=10,
            failure_rate_threshold=0.5,
            wait_in_open=0.02,
            permitted_calls_in_half_open=PROBES,
            max_wait_in_half_open=0.01,  # a round held up by a slow probe ends: that probe is late
        ),
        name="hammered",
    )
    ledger = LeaseLedger()
    probes = ProbeBook()
    proxy = ProbeRecordingBreaker(breaker, ledger, probes, blind=blind)
    ticks = itertools.count()

    def work(i: int, n: int) -> Tally:
        rng = random.Random(i)
        t = Tally()
        held: list[tuple[Permit, float]] = []
        for k in range(n):
            now = next(ticks) * DT
            permit = proxy.try_acquire(now)
            if permit is None:
                t.refused += 1
            else:
                t.acquired += 1
                held.append((permit, now))
            keep = 6 if (k // 200) % 2 else 1  # phases that hold permits long, and short
            while len(held) > keep or (held and rng.random() < 0.3):
                permit, at = held.pop(rng.randrange(len(held)))
                now = next(ticks) * DT
                r = rng.random()
                if r < 0.25:
                    proxy.release(permit, now)
                    t.outcomes["released"] += 1
                else:
                    proxy.record(permit, now, now - at, ERR if r < 0.7 else OK)
                    t.outcomes["recorded"] += 1
        for permit, _ in held:
            proxy.release(permit, next(ticks) * DT)
            t.outcomes["released"] += 1
        return t

    tallies = hammer(work, THREADS, calls)
    return breaker, ledger, probes, tallies


def test_every_permit_is_settled_once_and_late_ones_decide_nothing() -> None:
    breaker, ledger, probes, tallies = run_once(blind=False)
    acquired = sum(t.acquired for t in tallies)
    settled: Counter[str] = sum((t.outcomes for t in tallies), Counter())
    assert ledger.unsettled() == {} and ledger.bad == []
    assert ledger.issued["permit"] == acquired == settled["recorded"] + settled["released"]
    m = breaker.metrics()
    assert m.recorded + m.ignored + m.released == acquired
    assert m.released == settled["released"] and m.not_permitted == sum(t.refused for t in tallies)
    assert 0 < m.late < acquired, "no outcome arrived late: the hammer did not cross generations"
    assert sum(probes.granted.values()) > 0 and len(probes.granted) > 10, "too few half-open rounds"
    assert probes.over_the_limit() == {}
    assert breaker.window_check()


def test_negative_control_generation_blind_settlement_breaks_the_probe_bound() -> None:
    over: dict[int, tuple[int, int]] = {}
    for _ in range(3):
        _, _, probes, _ = run_once(blind=True)
        over = probes.over_the_limit()
        if over:
            break
    assert over, "generation-blind releases never freed a later round's probe: the test cannot see it"
