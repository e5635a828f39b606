"""SQL for sign-on: what the ledger says about a user's sign-ons through an identity provider.

Sign-on keeps no table of its own: each sign-on is recorded in the ledger under the sign-on
actor, with the provider's issuer and subject in the payload (``"sign_on": {"issuer": ...,
"subject": ...}``). The ledger is indexed by subject (``user/NAME``), so a user's sign-on
entries are found without reading anyone else's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.store.schema import ledger_entries


@dataclass(frozen=True, kw_only=True)
class SignOnEntry:
    """One ledger entry the sign-on actor wrote about a user."""

    seq: int
    action: str
    issuer: str
    subject: str
    payload: dict[str, Any]


def sign_on_entries(
    conn: Connection, *, actor: str, subject: str, newest_first: bool = False
) -> Iterator[SignOnEntry]:
    """Yield the entries ``actor`` wrote about ledger subject ``subject`` that name a sign-on."""
    query = (
        sa.select(ledger_entries.c.seq, ledger_entries.c.action, ledger_entries.c.entry)
        .where(ledger_entries.c.subject == subject, ledger_entries.c.actor == actor)
        .order_by(ledger_entries.c.seq.desc() if newest_first else ledger_entries.c.seq)
    )
    for row in conn.execute(query):
        payload = json.loads(row.entry).get("payload", {})
        source = payload.get("sign_on") if isinstance(payload, dict) else None
        if not isinstance(source, dict):
            continue
        yield SignOnEntry(
            seq=row.seq,
            action=row.action,
            issuer=str(source.get("issuer", "")),
            subject=str(source.get("subject", "")),
            payload=payload,
        )
