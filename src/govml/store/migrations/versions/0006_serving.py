"""Serving: the challenger set-up (off, shadow or canary) of each model's gateway.

Revision ID: 0006_serving
Revises: 0005_lifecycle
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0006_serving"
down_revision = "0005_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_configs",
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("share", sa.Float, nullable=True),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "mode IN ('off', 'shadow', 'canary')", name=op.f("ck_serving_configs_mode")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_serving_configs_model_id_models")
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_serving_configs")),
    )


def downgrade() -> None:
    op.drop_table("serving_configs")
