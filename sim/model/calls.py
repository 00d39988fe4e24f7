"""What a call asks of a service (``Op``) and where it is on its way (``Stage``)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Op", "Stage"]


class Op(IntEnum):
    """The operation a call performs; a compare-and-set attempt is a read, then a conditional write."""

    CALL = 0
    READ = 1
    WRITE = 2  # the conditional write of a compare-and-set

    @property
    def label(self) -> str:
        """The metric label: ``call``, ``read`` or ``write``."""
        return self.name.lower()


class Stage(IntEnum):
    """Where a call is: on the link, in the service's queue, holding a worker, answered, or given up."""

    TRAVELLING = 0
    QUEUED = 1
    SERVING = 2
    SERVED = 3
    CANCELLED = 4
