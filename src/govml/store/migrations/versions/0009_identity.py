"""Identities: normalised names, approving rights and approvals bound to their evidence.

Revision ID: 0009_identity
Revises: 0008_monitoring
Create Date: 2026-12-07
"""

revision = "0009_identity"
down_revision = "0008_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
