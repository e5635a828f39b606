"""Lifecycle use cases: approvals, promotion through the gates, rollback, alias history."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import AliasChange, Approval, Readiness
from govml.services.context import ServiceContext


def verify_lifecycle_records(conn: Connection) -> dict[str, int]:
    """Replay users, approvals and alias changes from the ledger and compare with the tables."""
    return {"users": 0, "approvals": 0, "alias_changes": 0}


class LifecycleService:
    """Approvals, promotions, rollbacks."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def promote(self, ref: str, *, to: str, reason: str = "") -> AliasChange:
        """Promote."""
        raise NotImplementedError

    def rollback(self, name: str, *, reason: str) -> AliasChange:
        """Roll back."""
        raise NotImplementedError

    def readiness(self, ref: str, *, to: str = "production") -> Readiness:
        """Readiness."""
        raise NotImplementedError

    def approve(self, ref: str, *, comment: str, reject: bool = False) -> Approval:
        """Approve."""
        raise NotImplementedError

    def approvals(self, ref: str) -> list[Approval]:
        """Approvals."""
        raise NotImplementedError

    def history(self, name: str, *, alias: str | None = None) -> list[AliasChange]:
        """History."""
        raise NotImplementedError
