"""Send govml's registrations, evaluations and promotions as OpenLineage run events.

The events are read from the ledger (`govml.integrations.openlineage`), so what Marquez or
DataHub shows is what the ledger proves, and a run can be sent again after an outage: the
caller passes the last sequence number it sent (``after``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govml.domain.lifecycle import Permission
from govml.integrations import openlineage
from govml.services.access import precheck
from govml.services.context import ServiceContext
from govml.store.ledger import iter_entries


@dataclass(frozen=True, kw_only=True)
class Emitted:
    """What one emission sent: how many events, up to which ledger entry."""

    target: str | None
    events: list[dict[str, Any]]
    last_seq: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``govml lineage emit --json``."""
        return {"target": self.target, "sent": len(self.events), "last_seq": self.last_seq}


class LineageService:
    """OpenLineage events from the ledger."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def emit(
        self,
        target: str | None,
        *,
        namespace: str = "govml",
        model: str | None = None,
        after: int | None = None,
        api_key: str | None = None,
    ) -> Emitted:
        """Build the events of entries after ``after`` and send them to ``target``.

        With ``target`` None nothing is sent (the caller prints the events).
        """
        precheck(self.ctx, Permission.READ)
        with self.ctx.store.read() as conn:
            entries = list(
                iter_entries(conn, model=model, actions=openlineage.ACTIONS, after=after)
            )
        found = openlineage.events(entries, namespace=namespace)
        if target is not None:
            openlineage.send(found, target, api_key=api_key)
        return Emitted(target=target, events=found, last_seq=entries[-1].seq if entries else after)
