"""A column of numbers appended a few at a time during a run, stored 8 bytes each."""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["Column"]

CHUNK: Final = 4096  # values collected in a list before they move into the array


class Column:
    """An ``array`` of numbers (``typecode`` ``"q"`` or ``"d"``) that takes appends through a list.

    ``array.extend`` with a tuple converts item by item through the iterator protocol, several times
    slower than ``list.extend``; appends collect in a list that moves into the array every ``CHUNK``
    values (``array.fromlist``), so a long run still keeps no per-value objects. ``array()`` gives
    the whole column (for ``np.frombuffer``).
    """

    __slots__ = ("_data", "_pending")

    def __init__(self, typecode: str) -> None:
        self._data: array[Any] = array(typecode)
        self._pending: list[Any] = []

    def append(self, value: Any) -> None:  # not ``float``: the compiled build would make ints floats
        pending = self._pending
        pending.append(value)
        if len(pending) >= CHUNK:
            self._move()

    def extend(self, values: Iterable[Any]) -> None:
        pending = self._pending
        pending.extend(values)
        if len(pending) >= CHUNK:
            self._move()

    def _move(self) -> None:
        self._data.fromlist(self._pending)
        self._pending.clear()

    def array(self) -> array[Any]:
        """Every value appended, in order."""
        if self._pending:
            self._move()
        return self._data

    def __len__(self) -> int:
        return len(self._data) + len(self._pending)
