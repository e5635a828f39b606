"""Gateway access: scoped API keys for the serving gateway.

Revision ID: 0010_gateway_keys
Revises: 0009_identity
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0010_gateway_keys"
down_revision = "0009_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("model_id", sa.Integer, nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_gateway_keys_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_keys")),
    )
    op.create_index("ix_gateway_keys_model_id", "gateway_keys", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_gateway_keys_model_id", table_name="gateway_keys")
    op.drop_table("gateway_keys")
