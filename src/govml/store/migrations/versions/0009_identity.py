"""Identities: normalised names, approving rights and approvals bound to their evidence.

- ``models.name_key`` and ``users.name_key``: the identity of a name (NFKC, case-folded),
  unique. Existing rows get theirs; when two existing names share one, or a name does not
  fully match the name rule (``"rita\\n"``), the upgrade stops, naming them, and changes
  nothing: merging two people or two models is not a decision a migration can make.
- ``users.roles_granted_at``: when each role a user holds was granted, replayed from the
  ledger's ``user.added`` and ``user.roles_set`` entries (the time of the entry that granted
  it; a role kept keeps its time), as `govml audit verify` replays it.
- ``approvals.evaluation_id`` and ``approvals.policy_digest``: the evidence a decision was
  given on. Decisions recorded before this revision have none, and no longer count toward a
  promotion (they are append-only: an approver approves again).

Revision ID: 0009_identity
Revises: 0008_monitoring
Create Date: 2026-12-07
"""

import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from govml.errors import IntegrityError
from govml.store.schema import UTCDateTime

revision = "0009_identity"
down_revision = "0008_monitoring"
branch_labels = None
depends_on = None

# The rules as this revision applies them (frozen here: later changes to the code's rules
# must not change what this migration did).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_PEOPLE_ACTIONS = ("user.added", "user.roles_set")


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    conn = op.get_bind()
    for table in ("models", "users"):
        op.add_column(
            table, sa.Column("name_key", sa.String(200), nullable=False, server_default="")
        )
    op.add_column(
        "users", sa.Column("roles_granted_at", sa.JSON, nullable=False, server_default="{}")
    )
    op.add_column("approvals", sa.Column("evaluation_id", sa.Integer, nullable=True))
    op.add_column("approvals", sa.Column("policy_digest", sa.String(71), nullable=True))
    _fill_keys(conn, "models", "model")
    _fill_keys(conn, "users", "user")
    _fill_grants(conn)
    op.create_index("ix_models_name_key", "models", ["name_key"], unique=True)
    op.create_index("ix_users_name_key", "users", ["name_key"], unique=True)


def _fill_keys(conn: sa.Connection, name: str, what: str) -> None:
    table = sa.table(name, sa.column("id", sa.Integer), sa.column("name", sa.String))
    rows = conn.execute(sa.select(table.c.id, table.c.name).order_by(table.c.id)).all()
    invalid = [row.name for row in rows if not _NAME.fullmatch(row.name)]
    if invalid:
        raise IntegrityError(
            f"cannot upgrade to revision {revision}: {what} name(s) "
            f"{', '.join(repr(name) for name in invalid)} do not match the name rule (1-200 "
            "letters, digits, '.', '_' or '-', nothing before or after); nothing was changed",
            hint=f"rename or remove the {what}(s) in the database, then run `govml db upgrade`",
        )
    seen: dict[str, str] = {}
    for row in rows:
        other = seen.setdefault(_key(row.name), row.name)
        if other != row.name:
            raise IntegrityError(
                f"cannot upgrade to revision {revision}: {what}s {other!r} and {row.name!r} are "
                "one name once case and Unicode compatibility forms are ignored, and are not "
                "merged; nothing was changed",
                hint=f"rename or remove one {what} in the database, then run `govml db upgrade`",
            )
    keyed = sa.table(name, sa.column("id", sa.Integer), sa.column("name_key", sa.String))
    for row in rows:
        conn.execute(sa.update(keyed).where(keyed.c.id == row.id).values(name_key=_key(row.name)))


def _fill_grants(conn: sa.Connection) -> None:
    ledger = sa.table(
        "ledger_entries",
        sa.column("seq", sa.BigInteger),
        sa.column("action", sa.String),
        sa.column("entry", sa.Text),
    )
    granted: dict[str, dict[str, str]] = {}
    query = (
        sa.select(ledger.c.entry).where(ledger.c.action.in_(_PEOPLE_ACTIONS)).order_by(ledger.c.seq)
    )
    for text in conn.execute(query).scalars():
        entry: dict[str, Any] = json.loads(text)
        name = str(entry["subject"]).removeprefix("user/")
        when = _iso(datetime.fromisoformat(entry["time"]))
        before = {} if entry["action"] == "user.added" else granted.get(name, {})
        granted[name] = {role: before.get(role, when) for role in entry["payload"]["roles"]}
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("roles", sa.JSON),
        sa.column("created_at", UTCDateTime),
        sa.column("roles_granted_at", sa.JSON),
    )
    rows = conn.execute(
        sa.select(users.c.id, users.c.name, users.c.roles, users.c.created_at)
    ).all()
    for row in rows:
        replayed = granted.get(row.name, {})
        fallback = _iso(row.created_at)
        times = {role: replayed.get(role, fallback) for role in row.roles}
        conn.execute(sa.update(users).where(users.c.id == row.id).values(roles_granted_at=times))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def downgrade() -> None:
    raise NotImplementedError(
        "identities are not downgraded: approvals and grant times depend on them"
    )
