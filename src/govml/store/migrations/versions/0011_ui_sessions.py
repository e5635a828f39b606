"""Web UI sessions and inventory indexes.

A hashed session id per signed-in person, with its CSRF secret and times; and two covering
indexes the inventory reads instead of the wide version and evaluation rows.

Revision ID: 0011_ui_sessions
Revises: 0010_gateway_keys
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from govml.store.schema import UTCDateTime

revision = "0011_ui_sessions"
down_revision = "0010_gateway_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("token_id", sa.String(32), nullable=False),
        sa.Column("csrf_secret", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ui_sessions_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_ui_sessions_token_id_tokens")
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_ui_sessions")),
    )
    op.create_index("ix_ui_sessions_expires_at", "ui_sessions", ["expires_at"])
    op.create_index(
        "ix_model_versions_inventory",
        "model_versions",
        ["model_id", "version", "created_at", "registrant"],
    )
    op.create_index("ix_evaluations_model_id_created_at", "evaluations", ["model_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_evaluations_model_id_created_at", table_name="evaluations")
    op.drop_index("ix_model_versions_inventory", table_name="model_versions")
    op.drop_index("ix_ui_sessions_expires_at", table_name="ui_sessions")
    op.drop_table("ui_sessions")
