"""Breakers keyed by name (e.g. one per host), created on first use, evicted when idle.

Only CLOSED breakers are evicted. An open, half-open or forced-open breaker
is protecting callers from a target that is failing (or was switched off);
dropping it would hand the next caller a fresh CLOSED breaker and send
traffic straight back. A disabled breaker is an operator's setting and is kept
too. Evicting a CLOSED breaker forgets its window, so choose ``idle_ttl`` at
least as long as a time window. "Used" means ``try_acquire`` on the breaker
(it stamps ``last_used``) or ``get`` from the registry; ``tick`` is not a use.

``tick(now)`` applies the transitions due by ``now`` in every breaker (an
open wait that ended, a half-open round that took too long), so state
listeners and exporters see them without waiting for the next call; each
is stamped at its due time, so ticking never changes what a call meets.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..events import Listener
from ..rng import RandomSource
from .breaker import CircuitBreaker
from .config import BreakerConfig
from .listeners import StateListener
from .machine import Transition
from .state import BreakerState

__all__ = ["BreakerRegistry"]


class BreakerRegistry:
    """Thread-safe map from name to ``CircuitBreaker`` sharing one config.

    ``rng_factory(name)`` gives each new breaker its rng (required when the
    config has ``wait_jitter`` > 0); ``configs`` overrides the config per name.
    """

    __slots__ = (
        "_breakers",
        "_configs",
        "_listeners",
        "_lock",
        "_rng_factory",
        "_state_listeners",
        "config",
        "idle_ttl",
    )

    def __init__(
        self,
        config: BreakerConfig | None = None,
        *,
        idle_ttl: float,
        rng_factory: Callable[[str], RandomSource] | None = None,
        configs: dict[str, BreakerConfig] | None = None,
        listeners: Iterable[Listener] = (),
        state_listeners: Iterable[StateListener] = (),
    ) -> None:
        if not (isinstance(idle_ttl, (int, float)) and idle_ttl > 0 and not math.isnan(idle_ttl)):
            raise ValueError(f"BreakerRegistry: idle_ttl must be > 0 (inf = never evict), got {idle_ttl!r}")
        self.config = config if config is not None else BreakerConfig()
        self._configs = dict(configs or {})
        jittered = [c for c in (self.config, *self._configs.values()) if c.wait_jitter > 0]
        if jittered and rng_factory is None:
            raise ValueError("BreakerRegistry: a config with wait_jitter > 0 needs an rng_factory")
        self.idle_ttl = float(idle_ttl)
        self._rng_factory = rng_factory
        self._listeners = tuple(listeners)
        self._state_listeners = tuple(state_listeners)
        self._lock: Any = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str, now: float) -> CircuitBreaker:
        """The breaker called ``name``, created on first use; marks it used at ``now``."""
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(
                    self._configs.get(name, self.config),
                    name=name,
                    rng=None if self._rng_factory is None else self._rng_factory(name),
                    listeners=self._listeners,
                    state_listeners=self._state_listeners,
                )
                self._breakers[name] = breaker
            if now > breaker.last_used:
                breaker.last_used = now
            return breaker

    def evict_idle(self, now: float) -> list[str]:
        """Remove CLOSED breakers unused for ``idle_ttl``; returns their names."""
        with self._lock:
            gone = [
                name
                for name, b in self._breakers.items()
                if now - b.last_used >= self.idle_ttl and b.state_at(now) is BreakerState.CLOSED
            ]
            for name in gone:
                del self._breakers[name]
            return gone

    def tick(self, now: float) -> dict[str, list[Transition]]:
        """Apply every breaker's transitions due by ``now`` (listeners are notified, outside the
        registry's lock); returns the transitions by breaker name, for those that moved."""
        with self._lock:
            held = list(self._breakers.items())
        moved = {}
        for name, breaker in held:
            fired = breaker.tick(now)
            if fired:
                moved[name] = fired
        return moved

    def names(self) -> list[str]:
        with self._lock:
            return list(self._breakers)

    def breakers(self) -> list[CircuitBreaker]:
        """The breakers now held (for exporters)."""
        with self._lock:
            return list(self._breakers.values())

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._breakers

    def __len__(self) -> int:
        with self._lock:
            return len(self._breakers)
