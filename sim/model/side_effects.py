"""An endpoint's side-effect ledger: how often each request's effect happened, and duplicates.

The endpoint calls :meth:`SideEffectLedger.begin` when it starts the work of
a request (``request_key``: the same for every attempt of one client request)
and :meth:`~SideEffectLedger.commit` when the effect has happened (or
:meth:`~SideEffectLedger.abort` when it did not). A commit for a request key
whose effect already happened within ``remember`` seconds is a duplicate side
effect: a retry re-ran a write whose first attempt had run.

With ``keyed=True`` (the caller sent an idempotency key) the begin goes
through a real :class:`resilience.idempotency.IdempotencyStore`: the first
attempt executes; a duplicate while it is pending is refused as in progress
(HTTP 409), one after it finished replays the stored answer; both are counted
as ``prevented``. The ledger's own memory still counts duplicates, so a key
that expired before the retry (``pending_ttl`` too short) shows up as one.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable
from typing import NamedTuple

from resilience.idempotency import IdempotencyStore, InProgress, New, Replay
from sim.scenario.stores import SideEffectsConfig

__all__ = ["Begin", "Effect", "SideEffectLedger"]


class Effect(enum.Enum):
    """What the endpoint does with an attempt."""

    EXECUTE = "execute"  # run the work (then commit or abort)
    IN_PROGRESS = "in_progress"  # keyed duplicate while the first runs: answer 409, do not run
    REPLAY = "replay"  # keyed duplicate after the first finished: answer the stored result


class Begin(NamedTuple):
    """The decision for one attempt and the token to settle it with (0 without a key)."""

    effect: Effect
    token: int


_EXECUTE_UNKEYED = Begin(Effect.EXECUTE, 0)


class SideEffectLedger:
    """Counts ``executions``, ``effects``, ``duplicates``, ``aborted``, and keyed refusals.

    ``prevented`` = ``in_progress`` + ``replayed``: attempts the idempotency
    store kept from running again.
    """

    __slots__ = (
        "_committed",
        "_order",
        "_remember",
        "aborted",
        "cfg",
        "duplicates",
        "effects",
        "executions",
        "in_progress",
        "name",
        "replayed",
        "store",
    )

    def __init__(self, cfg: SideEffectsConfig, *, name: str = "default") -> None:
        self.cfg = cfg
        self.name = name
        self.store = IdempotencyStore(cfg.idempotency, name=name)
        self._remember = cfg.remember
        self._committed: dict[Hashable, float] = {}  # request key -> time of its first effect
        self._order: deque[tuple[float, Hashable]] = deque()
        self.executions = 0
        self.effects = 0
        self.duplicates = 0
        self.aborted = 0
        self.in_progress = 0
        self.replayed = 0

    @property
    def prevented(self) -> int:
        """Attempts the idempotency store refused (in progress or replayed)."""
        return self.in_progress + self.replayed

    def begin(self, request_key: Hashable, now: float, *, keyed: bool = False) -> Begin:
        """An attempt of ``request_key`` reached the endpoint: run it, or (keyed) refuse it."""
        if not keyed:
            self.executions += 1
            return _EXECUTE_UNKEYED
        answer = self.store.begin(str(request_key), now)
        if isinstance(answer, New):
            self.executions += 1
            return Begin(Effect.EXECUTE, answer.token)
        if isinstance(answer, InProgress):
            self.in_progress += 1
            return Begin(Effect.IN_PROGRESS, 0)
        assert isinstance(answer, Replay)  # no fingerprints are sent: no KeyConflict
        self.replayed += 1
        return Begin(Effect.REPLAY, 0)

    def commit(self, request_key: Hashable, token: int, now: float) -> bool:
        """The effect of an executed attempt happened; True if it is a duplicate."""
        if token:
            self.store.succeed(str(request_key), token, now)
        self.effects += 1
        self._forget(now)
        if request_key in self._committed:
            self.duplicates += 1
            return True
        self._committed[request_key] = now
        self._order.append((now, request_key))
        return False

    def abort(self, request_key: Hashable, token: int, now: float) -> None:
        """The executed attempt had no effect: a keyed retry may execute it again."""
        if token:
            self.store.release(str(request_key), token, now)
        self.aborted += 1

    def record(self, request_key: Hashable, now: float, *, keyed: bool = False) -> Effect:
        """An attempt whose effect, if it runs, happens at once (begin, then commit)."""
        decision = self.begin(request_key, now, keyed=keyed)
        if decision.effect is Effect.EXECUTE:
            self.commit(request_key, decision.token, now)
        return decision.effect

    def counters(self) -> dict[str, int]:
        """The counters as plain data for results."""
        return {
            "executions": self.executions,
            "effects": self.effects,
            "duplicates": self.duplicates,
            "aborted": self.aborted,
            "in_progress": self.in_progress,
            "replayed": self.replayed,
            "prevented": self.prevented,
        }

    def _forget(self, now: float) -> None:
        order, committed, horizon = self._order, self._committed, now - self._remember
        while order and order[0][0] <= horizon:
            at, key = order.popleft()
            if committed.get(key) == at:
                del committed[key]
