"""Deadlines: absolute end, remaining, expiry at the boundary, children, scopes."""

from __future__ import annotations

import asyncio
import contextvars
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience.core import Deadline, ManualClock, current_deadline, deadline_scope


def test_after_is_absolute() -> None:
    clock = ManualClock(100.0)
    d = Deadline.after(clock.now(), 2.0)
    assert d.expires_at == 102.0 and d.timeout == 2.0 and d.explicit
    clock.advance(0.5)
    assert d.remaining(clock.now()) == 1.5


def test_remaining_never_negative() -> None:
    d = Deadline(10.0)
    assert d.remaining(9.0) == 1.0
    assert d.remaining(10.0) == 0.0
    assert d.remaining(50.0) == 0.0


def test_expired_at_the_boundary() -> None:
    d = Deadline(10.0)
    assert not d.expired(9.999)
    assert d.expired(10.0)
    assert d.expired(10.001)


def test_never() -> None:
    d = Deadline.never()
    assert d.remaining(1e12) == math.inf
    assert not d.expired(1e300)
    assert not d.explicit


def test_bad_values() -> None:
    with pytest.raises(ValueError, match=r"^Deadline.timeout=-1.0: must be >= 0$"):
        Deadline.after(0.0, -1.0)
    with pytest.raises(ValueError, match=r"^Deadline.timeout=nan: must be >= 0$"):
        Deadline.after(0.0, math.nan)
    with pytest.raises(ValueError, match=r"^Deadline.expires_at=nan: must not be NaN$"):
        Deadline(math.nan)
    with pytest.raises(ValueError, match=r"^Deadline.reserve=-0.1: must be >= 0$"):
        Deadline(5.0).child(0.0, reserve=-0.1)


def test_zero_timeout_is_expired_at_once() -> None:
    assert Deadline.after(3.0, 0.0).expired(3.0)


def test_child_takes_the_earlier_end() -> None:
    parent = Deadline(10.0)
    assert parent.child(0.0, 2.0).expires_at == 2.0
    assert parent.child(0.0, 20.0).expires_at == 10.0
    assert parent.child(0.0).expires_at == 10.0


def test_child_keeps_a_reserve_for_the_parent() -> None:
    parent = Deadline(10.0)
    assert parent.child(0.0, reserve=0.5).expires_at == 9.5
    assert parent.child(0.0, 9.7, reserve=0.5).expires_at == 9.5
    assert parent.child(0.0, 3.0, reserve=0.5).expires_at == 3.0
    # a reserve larger than what is left leaves an already expired child
    assert parent.child(9.8, reserve=0.5).expired(9.8)


def test_child_explicitness() -> None:
    implicit = Deadline(10.0, explicit=False)
    assert not implicit.child(0.0, 20.0).explicit  # the parent's end wins
    assert implicit.child(0.0, 2.0).explicit  # its own timeout wins


@given(
    parent_end=st.floats(min_value=0.0, max_value=1e6),
    now=st.floats(min_value=0.0, max_value=1e6),
    timeout=st.none() | st.floats(min_value=0.0, max_value=1e6),
    reserve=st.floats(min_value=0.0, max_value=1e3),
)
def test_child_never_outlives_its_parent(
    parent_end: float, now: float, timeout: float | None, reserve: float
) -> None:
    parent = Deadline(parent_end)
    child = parent.child(now, timeout, reserve=reserve)
    assert child.expires_at <= parent.expires_at - reserve
    assert child.remaining(now) <= parent.remaining(now)
    if timeout is not None:
        assert child.expires_at <= now + timeout
    grandchild = child.child(now, None)
    assert grandchild.expires_at <= child.expires_at


def test_equality_and_hash_by_end() -> None:
    assert Deadline(5.0) == Deadline(5.0, timeout=1.0, explicit=False)
    assert hash(Deadline(5.0)) == hash(Deadline(5.0))
    assert Deadline(5.0) != Deadline(6.0)
    assert Deadline(5.0) != 5.0
    assert repr(Deadline(5.0)) == "Deadline(expires_at=5.0)"


# ---------------------------------------------------------------------------
# deadline_scope


def test_scope_sets_and_restores() -> None:
    assert current_deadline() is None
    with deadline_scope(Deadline(5.0)) as d:
        assert d == Deadline(5.0)
        assert current_deadline() is d
    assert current_deadline() is None


def test_nested_scope_keeps_the_earlier_deadline() -> None:
    outer = Deadline(5.0)
    with deadline_scope(outer):
        with deadline_scope(Deadline(9.0)) as inner:
            assert inner is outer
            assert current_deadline() is outer
        with deadline_scope(Deadline(2.0)) as tighter:
            assert tighter.expires_at == 2.0
            assert current_deadline() is tighter
        assert current_deadline() is outer


def test_scope_is_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), deadline_scope(Deadline(1.0)):
        raise RuntimeError("boom")
    assert current_deadline() is None


def test_scope_travels_into_tasks_but_not_into_a_fresh_context() -> None:
    seen: list[Deadline | None] = []

    async def inner() -> None:
        seen.append(current_deadline())

    async def main() -> None:
        with deadline_scope(Deadline(7.0)):
            await asyncio.create_task(inner())
        await asyncio.create_task(inner())

    asyncio.run(main())
    assert seen == [Deadline(7.0), None]
    assert contextvars.Context().run(current_deadline) is None
