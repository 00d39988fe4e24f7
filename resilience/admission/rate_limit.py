"""A token-bucket rate limiter: ``rate`` tokens per second, at most ``burst`` stored."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from .._config import Config, positive, rule
from ..metrics.counters import CounterSink, LabelCounts
from .rejection import RejectionCause

__all__ = ["TokenBucketConfig", "TokenBucketRateLimiter"]


@dataclass(frozen=True, slots=True)
class TokenBucketConfig(Config):
    """``rate`` tokens per second refill a bucket of ``burst`` tokens; it starts full."""

    rate: float = field(default=100.0, metadata=rule(positive, "must be > 0 and finite"))
    burst: float = field(default=100.0, metadata=rule(lambda v: math.isfinite(v) and v >= 1, "must be >= 1"))


class TokenBucketRateLimiter:
    """Thread-safe token bucket; refusals counted as ``rate_limited``.

    Over any interval of length ``t`` it grants at most ``burst + rate * t``
    tokens. Time that goes backwards (threads passing slightly stale ``now``
    values) adds nothing.
    """

    __slots__ = ("_last", "_lock", "_tokens", "config", "name", "rejections")

    def __init__(
        self,
        config: TokenBucketConfig | None = None,
        *,
        name: str = "default",
        sink: CounterSink | None = None,
    ) -> None:
        self.config = config or TokenBucketConfig()
        self.name = name
        self.rejections = LabelCounts("resilience_admission_rejections_total", "cause", name, sink)
        self._lock = threading.Lock()
        self._tokens = self.config.burst
        self._last: float | None = None

    def _check(self, n: float) -> None:
        if not (n > 0 and n <= self.config.burst):
            raise ValueError(f"TokenBucketRateLimiter: n={n!r} must be in (0, burst={self.config.burst}]")

    def _refill(self, now: float) -> float:
        last = self._last
        if last is None or now > last:
            if last is not None:
                self._tokens = min(self.config.burst, self._tokens + (now - last) * self.config.rate)
            self._last = now
        return self._tokens

    def try_acquire(self, now: float, n: float = 1) -> bool:
        """Take ``n`` tokens if the bucket holds them; otherwise count a ``rate_limited`` refusal."""
        self._check(n)
        with self._lock:
            tokens = self._refill(now)
            if tokens >= n:
                self._tokens = tokens - n
                return True
        self.rejections.inc(RejectionCause.RATE_LIMITED.value)
        return False

    def wait_time(self, now: float, n: float = 1) -> float:
        """Seconds until ``n`` tokens would be available (0 if now); takes nothing."""
        self._check(n)
        with self._lock:
            tokens = self._refill(now)
            return 0.0 if tokens >= n else (n - tokens) / self.config.rate

    def available(self, now: float) -> float:
        """Tokens in the bucket at ``now``."""
        with self._lock:
            return self._refill(now)
