"""How long a breaker stays open: escalating waits for opens in a row, capped, jittered.

The k-th open in a row waits ``wait_in_open · wait_multiplier^(k-1)``, capped
at ``wait_max`` (or ``break_duration(k)`` when the breaker was given one),
then scaled by ``1 ± wait_jitter`` drawn from the injected rng; jitter applies
after the cap, so capped waits still spread. Closing sets k back to 0.

Jitter draws are buffered: the k-th open always uses the k-th draw of the
rng, whether a query looked ahead first (``shadow``) or not, so observing a
breaker never changes its waits.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from ..hooks import report_hook_error
from ..rng import RandomSource
from .config import BreakerConfig

__all__ = ["BreakDuration", "OpenWaits"]

BreakDuration = Callable[[int], float]
"""``break_duration(k)``: seconds the k-th open in a row (k >= 1) waits before jitter."""


class OpenWaits:
    """The open-wait sequence of one breaker; ``next()`` is the wait of the next open in a row."""

    __slots__ = ("_base", "_config", "_drawn", "_duration", "_name", "_peeked", "_rng", "_shadow", "opens")

    def __init__(
        self, config: BreakerConfig, rng: RandomSource | None, duration: BreakDuration | None, name: str
    ) -> None:
        self._config = config
        self._rng = rng
        self._duration = duration
        self._name = name
        self._drawn: deque[float] | None = None  # jitter draws looked ahead at; made by the first ``shadow``
        self._shadow = False
        self._peeked = 0
        self.opens = 0
        self._base = config.wait_in_open

    def next(self) -> float:
        """Count one more open in a row and return its wait."""
        c = self._config
        self.opens += 1
        k = self.opens
        if self._duration is not None:
            base = self._from_callable(k)
        elif k == 1:
            base = c.wait_in_open
        else:
            base = self._base * c.wait_multiplier
            if c.wait_max is not None and base > c.wait_max:
                base = c.wait_max
        self._base = base
        if c.wait_jitter and self._rng is not None:
            return base * (1.0 + c.wait_jitter * (2.0 * self._draw() - 1.0))
        return base

    def reset(self) -> None:
        """The breaker closed: the next open is the first in a row."""
        self.opens = 0
        self._base = self._config.wait_in_open

    def shadow(self) -> OpenWaits:
        """A copy for looking ahead: it reads the same draws without consuming them."""
        if self._drawn is None:
            self._drawn = deque()
        s = OpenWaits.__new__(OpenWaits)
        s._config, s._rng, s._duration, s._name = self._config, self._rng, self._duration, self._name
        s._drawn, s._shadow, s._peeked = self._drawn, True, 0
        s.opens, s._base = self.opens, self._base
        return s

    def _draw(self) -> float:
        drawn = self._drawn
        if not self._shadow:
            return drawn.popleft() if drawn else self._rng.random()  # type: ignore[union-attr]
        assert drawn is not None  # a shadow shares its original's deque
        while len(drawn) <= self._peeked:
            drawn.append(self._rng.random())  # type: ignore[union-attr]
        r = drawn[self._peeked]
        self._peeked += 1
        return r

    def _from_callable(self, k: int) -> float:
        fn = self._duration
        assert fn is not None
        try:
            wait = float(fn(k))
            if not (math.isfinite(wait) and wait > 0):
                raise ValueError(f"break_duration({k}) returned {wait!r}: must be > 0 and finite")
        except Exception as exc:  # a user hook: isolated, the configured wait stands in
            report_hook_error(self._name, fn, exc)
            return self._config.wait_in_open
        return wait
