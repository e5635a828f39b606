"""Model-risk lifecycle: retirements and the risk register of each model.

Revision ID: 0014_model_risk
Revises: 0013_oversight
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0014_model_risk"
down_revision = "0013_oversight"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_retirements",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("retired_at", UTCDateTime, nullable=False),
        sa.Column("retired_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(200), nullable=True),
        sa.Column("aliases", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_model_retirements_model_id_models")
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_model_retirements")),
    )
    op.create_table(
        "risk_registers",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("risks", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(71), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_risk_registers_model_id_models")
        ),
        sa.PrimaryKeyConstraint("model_id", "revision", name=op.f("pk_risk_registers")),
    )


def downgrade() -> None:
    op.drop_table("risk_registers")
    op.drop_table("model_retirements")
