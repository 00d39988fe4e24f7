"""A client group's instances, built on first use: each instance's pipeline, breaker, budget and random
streams exist only once the instance has sent a request.

The results equal those of building every instance up front: an instance's
streams depend only on the run seed and the instance's key, a breaker or
budget that has never been used reports what a new one reports, and the
group-wide figures the recorder samples (mean budget tokens, breaker counts
and rates) are summed in instance order with the unbuilt instances counted
as new ones.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from resilience.budget import GrpcRetryThrottle, TokenBucketBudget
from sim.model.streams import BLOCK, stable_key

__all__ = ["FIRST_BLOCK", "InstanceRandom", "Instances", "StreamKey"]

FIRST_BLOCK = 8  # floats drawn at an instance stream's first use; each later block doubles, up to BLOCK
_TIMELESS = (TokenBucketBudget, GrpcRetryThrottle)  # budgets whose tokens change only when they are used


class StreamKey:
    """Where the streams of one purpose come from: the run seed and a component name per instance."""

    __slots__ = ("prefix", "purpose", "seed")

    def __init__(self, seed: int, prefix: str, purpose: str) -> None:
        self.seed = seed
        self.prefix = prefix  # the instance's component is ``f"{prefix}{i}"``
        self.purpose = purpose

    def generator(self, i: int, skip: int) -> np.random.Generator:
        """Instance ``i``'s generator (as ``Streams.generator`` makes it), ``skip`` floats already drawn."""
        seq = np.random.SeedSequence(self.seed, spawn_key=stable_key(f"{self.prefix}{i}", self.purpose))
        bits = np.random.PCG64(seq)
        if skip:
            bits.advance(skip)  # a float is one 64-bit output of PCG64
        return np.random.Generator(bits)


class InstanceRandom:
    """``random()`` from one instance's stream; the same floats as ``Streams.uniform`` gives for it.

    Nothing is allocated before the first draw. Floats are drawn in blocks of
    ``FIRST_BLOCK``, doubling up to ``BLOCK``; between blocks only the count
    drawn so far is kept (the generator is made again and advanced past it).
    """

    __slots__ = ("_drawn", "_i", "_it", "_key")

    def __init__(self, key: StreamKey, i: int) -> None:
        self._key = key
        self._i = i
        self._drawn = 0
        self._it: Iterator[float] | None = None

    def random(self) -> float:
        """The next float in [0, 1)."""
        it = self._it
        if it is not None:
            for x in it:
                return x
        drawn = self._drawn
        n = min(BLOCK, max(FIRST_BLOCK, drawn))
        block = array("d", self._key.generator(self._i, drawn).random(n).tobytes())  # 8 bytes a float
        self._drawn = drawn + n
        self._it = it = iter(block)
        return next(it)

    @property
    def drawn(self) -> int:
        """Floats taken from the stream so far (whole blocks)."""
        return self._drawn


class Instances(Sequence[Any]):
    """A group's instance pipelines, each built by ``build(i)`` on first access (``[i]`` or ``get``).

    Iterating does not build: an instance not built yet appears as a view that
    reports what a new one would (``pristine``, one shared, never used
    pipeline), so code written for a list of built pipelines sees the same
    values. ``budget_tokens`` and ``breaker_totals`` give the group-wide
    figures without walking the instances in Python.
    """

    def __init__(self, n: int, build: Callable[[int], Any], pristine: Callable[[], Any]) -> None:
        self._n = n
        self._build = build
        self._pristine_of = pristine
        self._pristine: Any = None
        self.items: list[Any] = [None] * n  # the built pipelines, None where not built yet
        self.built: list[int] = []  # indices in the order they were built
        # Kept by the group for ``budget_tokens``: instances with requests in flight (and how many), and
        # instances whose request ended since the last reading.
        self.busy: dict[int, int] = {}
        self.touched: set[int] = set()
        self._tokens: array[float] | None = None  # per instance at the last reading (timeless budgets only)

    @classmethod
    def of(cls, pipelines: Sequence[Any]) -> Instances:
        """Pipelines built already (any sequence; an ``Instances`` is returned as it is). Every instance
        is built, so the first pipeline stands in as ``pristine`` only to tell whether there are
        breakers and budgets and of which kind."""
        if isinstance(pipelines, Instances):
            return pipelines
        ready = list(pipelines)

        def unbuildable(i: int) -> Any:
            raise IndexError(f"instance {i}: not among the {len(ready)} given pipelines")

        seq = cls(len(ready), unbuildable, lambda: ready[0])
        seq.items = ready
        seq.built = list(range(len(ready)))
        return seq

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Any]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._n))]
        p = self.items[i]
        return self.get(i if i >= 0 else i + self._n) if p is None else p

    def get(self, i: int) -> Any:
        """Instance ``i``'s pipeline, built now if it was not."""
        p = self.items[i]
        if p is None:
            p = self.items[i] = self._build(i)
            self.built.append(i)
        return p

    def pristine(self) -> Any:
        """A pipeline as every instance's is before its first request (never used itself)."""
        if self._pristine is None:
            self._pristine = self._pristine_of()
        return self._pristine

    @property
    def has_budget(self) -> bool:
        """Whether the instances have retry budgets."""
        return self._n > 0 and self.pristine().budget is not None

    @property
    def has_breaker(self) -> bool:
        """Whether the instances have circuit breakers."""
        return self._n > 0 and self.pristine().breaker is not None

    def __iter__(self) -> Iterator[Any]:
        items = self.items
        for i in range(self._n):
            p = items[i]
            yield _Unbuilt(self, i) if p is None else p

    def budget_tokens(self, t: float) -> float | None:
        """The mean of every instance's ``budget.available(t)`` (None without budgets), summed in
        instance order as over a list of built pipelines.

        A budget whose tokens change only when it is used (token bucket, gRPC throttle) is read again
        only if its instance had a request in flight since the last reading; others are read each time.
        """
        if not self.has_budget:
            return None
        items = self.items
        values = self._tokens
        if values is None:
            proto = self.pristine().budget
            first = [proto.available(t) if len(self.built) < self._n else 0.0] * self._n
            for i in self.built:
                first[i] = items[i].budget.available(t)
            if not isinstance(proto, _TIMELESS):
                return sum(first) / self._n
            self._tokens = values = array("d", first)
        else:
            for i in self.touched:
                values[i] = items[i].budget.available(t)
            for i in self.busy:
                values[i] = items[i].budget.available(t)
        self.touched.clear()
        return sum(values) / self._n

    def breaker_totals(self, t: float) -> tuple[list[int], float, float, int] | None:
        """Breaker calls by kind and late outcomes summed, failure and slow-call rates averaged over
        every instance as ``counts(t)`` gives them (None without breakers). A new breaker counts
        nothing and has both rates 0.0, which leaves an instance-order sum unchanged."""
        if not self.has_breaker:
            return None
        kinds = [0, 0, 0, 0, 0, 0]
        fr = sr = 0.0
        late = 0
        items = self.items
        for i in sorted(self.built):
            c = items[i].breaker.counts(t)
            for k, v in enumerate(c.kinds):
                kinds[k] += v
            late += c.late
            fr += c.failure_rate
            sr += c.slow_call_rate
        return kinds, fr / self._n, sr / self._n, late


class _Unbuilt:
    """Instance ``i`` before its first request, as iteration shows it: reads go to the built pipeline
    once there is one, otherwise to the shared pristine one."""

    __slots__ = ("_i", "_seq")

    def __init__(self, seq: Instances, i: int) -> None:
        self._seq = seq
        self._i = i

    def _current(self) -> Any:
        p = self._seq.items[self._i]
        return self._seq.pristine() if p is None else p

    @property
    def breaker(self) -> Any:
        """The breaker as of now (a new one's state while the instance is not built)."""
        p = self._seq.items[self._i]
        return self._seq.pristine().breaker if p is None else p.breaker

    @property
    def budget(self) -> Any:
        """A view of the instance's budget that stays valid once the instance is built."""
        if self._seq.pristine().budget is None:
            return None
        return _BudgetView(self._seq, self._i)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


class _BudgetView:
    """Instance ``i``'s budget as an observer reads it: the built one's figures, else a new one's."""

    __slots__ = ("_i", "_seq")

    def __init__(self, seq: Instances, i: int) -> None:
        self._seq = seq
        self._i = i

    def available(self, now: float) -> float:
        p = self._seq.items[self._i]
        b = self._seq.pristine().budget if p is None else p.budget
        return float(b.available(now))

    def __getattr__(self, name: str) -> Any:
        p = self._seq.items[self._i]
        return getattr(self._seq.pristine().budget if p is None else p.budget, name)
