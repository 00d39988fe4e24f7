"""The polymorphic base of every retry-budget config."""

from __future__ import annotations

import abc

from .._config import Config
from ..protocols import BudgetLike
from ..rng import RandomSource

__all__ = ["BudgetConfig"]


class BudgetConfig(Config, abc.ABC):
    """A retry budget's settings; ``build`` makes the shared, thread-safe budget.

    A field typed ``BudgetConfig`` accepts any concrete budget config and
    round-trips through ``to_dict``/``from_dict`` by its ``type`` tag
    (``token_bucket``, ``ratio``, ``grpc``, ``adaptive``).
    """

    __slots__ = ()

    @abc.abstractmethod
    def build(self, rng: RandomSource | None = None, name: str = "default") -> BudgetLike:
        """A new budget with these settings; ``name`` labels its metrics."""
