"""Human oversight of served decisions: the review queue and model suspensions.

Revision ID: 0013_oversight
Revises: 0012_ledger_action_index
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0013_oversight"
down_revision = "0012_ledger_action_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("record", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("model_decision", sa.JSON, nullable=True),
        sa.Column("inputs_digest", sa.String(71), nullable=True),
        sa.Column("referred_at", UTCDateTime, nullable=False),
        sa.Column("referred_by", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decision", sa.JSON, nullable=True),
        sa.Column("override", sa.Boolean, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.CheckConstraint("kind IN ('referral', 'override')", name=op.f("ck_referrals_kind")),
        sa.CheckConstraint("status IN ('pending', 'decided')", name=op.f("ck_referrals_status")),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_referrals_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("model_id", "request_id", "record", name=op.f("uq_referrals_model_id")),
    )
    op.create_index("ix_referrals_status", "referrals", ["model_id", "status", "referred_at"])
    op.create_table(
        "serving_suspensions",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_serving_suspensions_model_id_models")
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_serving_suspensions")),
    )


def downgrade() -> None:
    op.drop_table("serving_suspensions")
    op.drop_index("ix_referrals_status", table_name="referrals")
    op.drop_table("referrals")
