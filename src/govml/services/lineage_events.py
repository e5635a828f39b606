"""Send govml's registrations, evaluations and promotions as OpenLineage run events.

The events are read from the ledger (`govml.integrations.openlineage`), so what Marquez or
DataHub shows is what the ledger proves, and a run can be sent again after an outage: the
caller passes the last sequence number it sent (``after``).

With ``GOVML_LINEAGE_TARGET`` set, `LineageHook` also sends the events of each write as soon
as it is committed (registration, evaluation, promotion, rollback), from the process that
made it (the CLI, the SDK or the server). A send that fails is warned
(`LineageEmitWarning`, naming the entries) and never undoes the governed action: ``govml
lineage emit --since SEQ`` sends them again.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from govml.domain.lifecycle import Permission
from govml.domain.records import LedgerEntry
from govml.integrations import openlineage
from govml.services.access import precheck
from govml.services.context import ServiceContext
from govml.store.ledger import iter_entries

logger = logging.getLogger("govml.lineage")
SEND_TIMEOUT: Final = 5.0
"""Seconds an HTTP endpoint has to take each event sent as an action is committed."""


class LineageEmitWarning(UserWarning):
    """OpenLineage events of a committed action could not be sent (the action stands)."""


class LineageHook:
    """An after-commit hook of the store sending the write's OpenLineage events.

    Parameters
    ----------
    target : str
        An ``http(s)://`` endpoint or a file the events are appended to.
    namespace : str
        The OpenLineage namespace of govml's jobs.
    """

    def __init__(self, target: str, *, namespace: str = "govml") -> None:
        self.target = target
        self.namespace = namespace

    def __call__(self, entries: Sequence[LedgerEntry]) -> None:
        """Send the events of ``entries`` that have one; warn when they cannot be sent."""
        if not any(e.action in openlineage.ACTIONS for e in entries):
            return
        try:
            found = openlineage.events(entries, namespace=self.namespace)
            openlineage.send(
                found,
                self.target,
                api_key=os.environ.get("OPENLINEAGE_API_KEY"),
                timeout=SEND_TIMEOUT,
            )
        except Exception as exc:
            seqs = [e.seq for e in entries if e.action in openlineage.ACTIONS]
            message = (
                f"OpenLineage events of ledger entries {', '.join(map(str, seqs))} were not "
                f"sent to {self.target} ({exc}); the action stands: send them again with "
                f"`govml lineage emit --to {self.target} --since {min(seqs) - 1}`"
            )
            logger.warning("%s", message)
            warnings.warn(message, LineageEmitWarning, stacklevel=2)


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
