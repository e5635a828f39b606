"""Model documents: every revision of a model card's editable fields (append-only).

Revision ID: 0007_model_documents
Revises: 0006_serving
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0007_model_documents"
down_revision = "0006_serving"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_card_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("changed", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_card_revisions_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_card_revisions")),
        sa.UniqueConstraint(
            "model_id", "revision", name=op.f("uq_model_card_revisions_model_id_revision")
        ),
    )
    _append_only("model_card_revisions")


def _append_only(table: str) -> None:
    # The same triggers as the other append-only tables (same names and message).
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'govml: {table} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION govml_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION govml_append_only()"
        )
    else:
        raise NotImplementedError(f"append-only triggers are not defined for {dialect}")


def downgrade() -> None:
    raise NotImplementedError(
        "model card revisions are not downgraded: ledger entries refer to them"
    )
