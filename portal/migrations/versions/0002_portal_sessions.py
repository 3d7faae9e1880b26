"""portal sessions, server-side so that back-channel logout can end them

Revision ID: 0002_portal_sessions
Revises: 0001_kit
Create Date: 2026-11-29
"""

import servicekit.models
import sqlalchemy as sa
from alembic import op

revision = "0002_portal_sessions"
down_revision = "0001_kit"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "portal_sessions",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("sub", sa.String(length=200), nullable=True),
        sa.Column("sid", sa.String(length=200), nullable=True),
        sa.Column("user", sa.JSON(), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("id_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", servicekit.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", servicekit.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_portal_sessions")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sessions_expires_at"), ["expires_at"])
        batch_op.create_index(batch_op.f("ix_portal_sessions_sid"), ["sid"])
        batch_op.create_index(batch_op.f("ix_portal_sessions_sub"), ["sub"])


def downgrade():
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_sub"))
        batch_op.drop_index(batch_op.f("ix_portal_sessions_sid"))
        batch_op.drop_index(batch_op.f("ix_portal_sessions_expires_at"))
    op.drop_table("portal_sessions")
