"""Signed checkpoints: a tree head's signed note may be filled in once, and found quickly.

``ledger_checkpoints`` stays append-only with one exception: ``govml audit checkpoint`` stores
the signed note of an existing tree head, so the update trigger now lets ``signed_note`` go
from NULL to a value, once, when nothing else in the row changes. Everything else (another
column, a second signature, removing one, deleting a row) is still refused. A partial index
finds the latest signed tree head without scanning the unsigned ones.

Revision ID: 0002_signed_checkpoints
Revises: 0001_initial
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002_signed_checkpoints"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_MESSAGE = "govml: ledger_checkpoints is append-only (a missing signed_note may be set once)"
_SIGN_ONCE = (
    "OLD.signed_note IS NULL AND NEW.signed_note IS NOT NULL "
    "AND NEW.tree_size = OLD.tree_size AND NEW.root_hash = OLD.root_hash "
    "AND NEW.created_at = OLD.created_at AND {frontier}"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER ledger_checkpoints_no_update")
        condition = _SIGN_ONCE.format(frontier="NEW.frontier = OLD.frontier")
        op.execute(
            "CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints "
            f"WHEN NOT ({condition}) "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
    elif dialect == "postgresql":
        condition = _SIGN_ONCE.format(frontier="NEW.frontier::text = OLD.frontier::text")
        op.execute(
            "CREATE FUNCTION govml_checkpoint_sign_once() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'UPDATE' AND {condition} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$"
        )
        op.execute("DROP TRIGGER ledger_checkpoints_append_only ON ledger_checkpoints")
        op.execute(
            "CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE "
            "ON ledger_checkpoints FOR EACH ROW EXECUTE FUNCTION govml_checkpoint_sign_once()"
        )
    else:
        raise NotImplementedError(f"append-only triggers are not defined for {dialect}")
    op.execute(
        "CREATE INDEX ix_ledger_checkpoints_signed ON ledger_checkpoints (tree_size) "
        "WHERE signed_note IS NOT NULL"
    )


def downgrade() -> None:
    raise NotImplementedError("the ledger schema is not downgraded: the ledger is append-only")
