"""Evaluations: every `govml evaluate` run, its whole result as canonical JSON (append-only).

Revision ID: 0004_evaluations
Revises: 0003_policies
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0004_evaluations"
down_revision = "0003_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("policy_name", sa.String(200), nullable=False),
        sa.Column("policy_digest", sa.String(71), nullable=False),
        sa.Column("data_digest", sa.String(71), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("document_digest", sa.String(71), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "status IN ('pass', 'warn', 'fail')", name=op.f("ck_evaluations_status")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_evaluations_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index("ix_evaluations_model_version", "evaluations", ["model_id", "version"])
    _append_only("evaluations")


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
    raise NotImplementedError("evaluations are not downgraded: ledger entries refer to them")
