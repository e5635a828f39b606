"""Policies: applied versions (append-only) and the version in force for each risk tier.

Revision ID: 0003_policies
Revises: 0002_signed_checkpoints
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0003_policies"
down_revision = "0002_signed_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_name", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_policies_name_version")),
    )
    op.create_table(
        "policy_tiers",
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("policy_id", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "tier IN ('minimal', 'limited', 'high', 'unacceptable')",
            name=op.f("ck_policy_tiers_tier"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_policy_tiers_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_policy_tiers")),
    )
    _append_only("policies")


def _append_only(table: str) -> None:
    # The same triggers as the initial schema's append-only tables (same names and message).
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
    raise NotImplementedError("policies are not downgraded: ledger entries refer to them")
