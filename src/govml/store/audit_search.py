"""SQL for the audit explorer: ledger entries by model, actor, action and time, newest first.

Entry times are stored in the ledger's fixed format (``2026-12-07T03:28:16.649963Z``), so a
time range is a range of strings. Pages are cut by entry number (``before``), so a page stays
the same while new entries are appended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.domain.records import LedgerEntry
from govml.store.ledger import subject_filter
from govml.store.schema import ledger_entries


@dataclass(frozen=True, kw_only=True)
class EntryQuery:
    """What to look for; every given field must match (``action`` may end with ``*``)."""

    model: str | None = None
    actor: str | None = None
    action: str | None = None
    since: str | None = None
    until: str | None = None
    before: int | None = None
    limit: int = 100


def search_entries(conn: Connection, query: EntryQuery) -> list[LedgerEntry]:
    """Return the newest ``query.limit`` entries matching ``query``, newest first."""
    select = sa.select(ledger_entries)
    where = subject_filter(query.model)
    if where is not None:
        select = select.where(where)
    if query.actor:
        select = select.where(ledger_entries.c.actor == query.actor)
    if query.action:
        if query.action.endswith("*"):
            prefix = query.action[:-1].replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            select = select.where(ledger_entries.c.action.like(prefix + "%", escape="\\"))
        else:
            select = select.where(ledger_entries.c.action == query.action)
    if query.since:
        select = select.where(ledger_entries.c.time >= query.since)
    if query.until:
        select = select.where(ledger_entries.c.time < query.until)
    if query.before is not None:
        select = select.where(ledger_entries.c.seq < query.before)
    select = select.order_by(ledger_entries.c.seq.desc()).limit(query.limit)
    return [_entry(row) for row in conn.execute(select)]


def load_entry(conn: Connection, seq: int) -> tuple[LedgerEntry, str] | None:
    """Return entry ``seq`` and its exact stored text (the canonical JSON it hashes), or None."""
    row = conn.execute(sa.select(ledger_entries).where(ledger_entries.c.seq == seq)).first()
    return None if row is None else (_entry(row), row.entry)


def ledger_size(conn: Connection) -> int:
    """Return the number of entries."""
    found = conn.execute(sa.select(sa.func.max(ledger_entries.c.seq))).scalar_one_or_none()
    return 0 if found is None else int(found) + 1


def _entry(row: sa.Row[object]) -> LedgerEntry:
    return LedgerEntry(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        payload=json.loads(row.entry).get("payload", {}),
        leaf_hash=row.leaf_hash,
    )
