"""Gateway access: scoped API keys for the serving gateway.

Revision ID: 0010_gateway_keys
Revises: 0009_identity
Create Date: 2026-12-07
"""

revision = "0010_gateway_keys"
down_revision = "0009_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
