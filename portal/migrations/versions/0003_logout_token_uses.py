"""back-channel logout tokens already honoured, so that a replayed one is refused

Revision ID: 0003_logout_token_uses
Revises: 0002_portal_sessions
Create Date: 2026-11-29
"""

import servicekit.models
import sqlalchemy as sa
from alembic import op

revision = "0003_logout_token_uses"
down_revision = "0002_portal_sessions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "logout_token_uses",
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_logout_token_uses")),
    )
    op.create_index(op.f("ix_logout_token_uses_expires_at"), "logout_token_uses", ["expires_at"])


def downgrade():
    op.drop_index(op.f("ix_logout_token_uses_expires_at"), table_name="logout_token_uses")
    op.drop_table("logout_token_uses")
