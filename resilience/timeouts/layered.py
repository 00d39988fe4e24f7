"""Layered server/client timeouts: connect, read_header, read, write, idle."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._config import Config, positive, rule
from ..outcome import TimeoutPhase

__all__ = ["LayeredTimeouts"]

_POSITIVE = rule(positive, "must be > 0 and finite")


@dataclass(frozen=True, slots=True)
class LayeredTimeouts(Config):
    """One bound per phase of an HTTP/1.1-style connection, in seconds.

    Server side:

    - ``read_header``: from the start of a request (the accept for the first
      request, the first byte for later ones) until the request head is complete.
      It stops a client that sends its head byte by byte from holding a
      connection ("slowloris").
    - ``read``: from the same start until the request body is read (head + body).
      ``read_header`` must not exceed ``read``: the read bound covers the head too,
      so a larger ``read_header`` could never fire.
    - ``write``: from the first byte of the response until its last byte is handed
      to the kernel. It cuts a client that stops reading a large response.
    - ``idle``: how long a kept-alive connection may wait for the next request.
      Unset means ``read`` (Go net/http: "If IdleTimeout is zero, the value of
      ReadTimeout is used").

    ``idle`` may be larger than ``read``. The two bound different waits: ``read``
    the reading of one request that has begun, ``idle`` the quiet gap *between*
    requests on a kept-alive connection, which ends when the next request's
    first byte arrives and ``read_header``/``read`` start over. A long idle with a
    short read (60 s vs 15 s, the usual Go setting) never kills a request early.

    Client side: ``connect`` bounds opening the connection, ``write`` sending a
    request, ``read`` receiving the whole response.
    """

    connect: float = field(default=5.0, metadata=_POSITIVE)
    read_header: float = field(default=3.0, metadata=_POSITIVE)
    read: float = field(default=15.0, metadata=_POSITIVE)
    write: float = field(default=10.0, metadata=_POSITIVE)
    idle: float | None = field(default=None, metadata=_POSITIVE)

    def _cross_checks(self) -> None:
        if self.read_header > self.read:
            raise self._error("read_header", f"must be <= read ({self.read})")

    @property
    def idle_timeout(self) -> float:
        """The idle bound in force: ``idle``, or ``read`` when unset."""
        return self.read if self.idle is None else self.idle

    def timeout(self, phase: TimeoutPhase) -> float:
        """The bound for one connection phase."""
        bounds = {
            TimeoutPhase.CONNECT: self.connect,
            TimeoutPhase.READ_HEADER: self.read_header,
            TimeoutPhase.READ: self.read,
            TimeoutPhase.WRITE: self.write,
            TimeoutPhase.IDLE: self.idle_timeout,
        }
        try:
            return bounds[phase]
        except KeyError:
            raise ValueError(f"LayeredTimeouts has no bound for phase {phase.value!r}") from None

    def explicit(self, phase: TimeoutPhase) -> bool:
        """Whether the bound was configured (False only for an idle bound taken from ``read``)."""
        return not (phase is TimeoutPhase.IDLE and self.idle is None)
