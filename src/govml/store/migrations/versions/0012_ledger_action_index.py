"""An index on the ledger's action, for the replays of `audit verify`.

Each record family (users, policies, approvals, aliases, ...) is replayed from the entries of
its own actions, in sequence order: (action, seq) lets each replay read only its entries.

Revision ID: 0012_ledger_action_index
Revises: 0011_ui_sessions
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012_ledger_action_index"
down_revision = "0011_ui_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_action_seq", "ledger_entries", ["action", "seq"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_action_seq", table_name="ledger_entries")
