"""The grant a budget hands out: a ``Grant`` that knows its issuer and whether it was settled."""

from __future__ import annotations

from ..protocols import Grant

__all__ = ["Lease", "settle"]


class Lease(Grant):
    """A ``Grant`` issued by ``issuer``; ``open`` until it is settled (once)."""

    __slots__ = ("issuer", "open")

    def __init__(self, issuer: object, cost: float, at: float) -> None:
        super().__init__(cost, at)
        self.issuer = issuer
        self.open = True


def settle(grant: Grant | None, issuer: object) -> bool:
    """Close ``grant`` if it is an open lease of ``issuer``: True the first time, False after.

    A grant settled twice, or one another budget issued, is never credited
    again. The caller holds ``issuer``'s lock.
    """
    if isinstance(grant, Lease) and grant.issuer is issuer and grant.open:
        grant.open = False
        return True
    return False
