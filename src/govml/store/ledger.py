"""The ledger's tables: append entries and tree heads inside the caller's transaction.

Appends must run in a write transaction (`Store.write`), which serialises writers, so that
entry numbers and tree heads follow each other with no gaps and no races.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.domain.records import LedgerEntry
from govml.errors import IntegrityError
from govml.ledger.canonical import entry_bytes
from govml.ledger.merkle import Frontier, leaf_hash
from govml.store.schema import ledger_checkpoints, ledger_entries


@dataclass(frozen=True, kw_only=True)
class NewEntry:
    """An entry to append: what happened to which subject, with its details."""

    action: str
    subject: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class TreeHead:
    """Size and root of the ledger after a write transaction."""

    tree_size: int
    root_hash: str
    frontier: list[str]
    created_at: str


def format_time(moment: datetime) -> str:
    """Return the ledger's time format: UTC, microseconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def latest_tree_head(conn: Connection) -> TreeHead | None:
    """Return the newest tree head, or None for an empty ledger."""
    row = conn.execute(
        sa.select(ledger_checkpoints).order_by(ledger_checkpoints.c.tree_size.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return TreeHead(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        frontier=list(row.frontier),
        created_at=row.created_at,
    )


APPENDED = "govml_appended"
"""Key of the connection's ``info`` listing the entries appended in its open write."""


def append(
    conn: Connection, *, actor: str, entries: Sequence[NewEntry], now: datetime
) -> list[LedgerEntry]:
    """Append ``entries`` and a new tree head in the caller's write transaction."""
    head = conn.execute(
        sa.select(
            ledger_checkpoints.c.tree_size,
            ledger_checkpoints.c.frontier,
            sa.select(sa.func.count())
            .where(ledger_entries.c.seq >= ledger_checkpoints.c.tree_size)
            .scalar_subquery()
            .label("stray"),
        )
        .order_by(ledger_checkpoints.c.tree_size.desc())
        .limit(1)
    ).first()
    if head is None:
        frontier = Frontier()
        stray = conn.execute(sa.select(sa.func.count()).select_from(ledger_entries)).scalar_one()
    else:
        frontier = Frontier.from_json(head.tree_size, head.frontier)
        stray = head.stray
    if stray:
        raise IntegrityError(
            f"the ledger has {stray} entries past its last tree head (size {frontier.size})",
            hint="run `govml audit verify`",
        )
    when = format_time(now)
    written: list[LedgerEntry] = []
    rows: list[dict[str, Any]] = []
    for new in entries:
        seq = frontier.size
        payload = dict(new.payload)
        data = entry_bytes(
            seq=seq, time=when, actor=actor, action=new.action, subject=new.subject, payload=payload
        )
        digest = leaf_hash(data)
        frontier.append(digest)
        rows.append(
            {
                "seq": seq,
                "time": when,
                "actor": actor,
                "action": new.action,
                "subject": new.subject,
                "entry": data.decode("utf-8"),
                "leaf_hash": digest.hex(),
            }
        )
        written.append(
            LedgerEntry(
                seq=seq,
                time=when,
                actor=actor,
                action=new.action,
                subject=new.subject,
                payload=json.loads(data)["payload"],
                leaf_hash=digest.hex(),
            )
        )
    if not rows:
        return written
    conn.execute(sa.insert(ledger_entries), rows)
    conn.execute(
        sa.insert(ledger_checkpoints).values(
            tree_size=frontier.size,
            root_hash=frontier.root().hex(),
            frontier=frontier.to_json(),
            created_at=when,
        )
    )
    conn.info.setdefault(APPENDED, []).extend(written)  # for the store's after-commit hooks
    return written


def subject_filter(model: str | None) -> sa.ColumnElement[bool] | None:
    """Return a WHERE clause for entries about ``model`` and its versions."""
    if model is None:
        return None
    base = f"model/{model}"
    return sa.or_(ledger_entries.c.subject == base, ledger_entries.c.subject.like(base + "/%"))


def iter_entries(
    conn: Connection,
    *,
    model: str | None = None,
    action: str | None = None,
    actions: Sequence[str] | None = None,
    after: int | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> Iterator[LedgerEntry]:
    """Yield stored entries in order of ``seq``, optionally filtered."""
    query = sa.select(ledger_entries)
    where = subject_filter(model)
    if where is not None:
        query = query.where(where)
    if action is not None:
        query = query.where(ledger_entries.c.action == action)
    if actions is not None:
        query = query.where(ledger_entries.c.action.in_(actions))
    if after is not None:
        query = query.where(ledger_entries.c.seq > after)
    order = ledger_entries.c.seq.desc() if newest_first else ledger_entries.c.seq
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    for row in conn.execute(query):
        yield LedgerEntry(
            seq=row.seq,
            time=row.time,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            payload=json.loads(row.entry).get("payload", {}),
            leaf_hash=row.leaf_hash,
        )
