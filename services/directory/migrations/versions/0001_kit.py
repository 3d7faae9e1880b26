"""kit tables: outbox, processed events, append-only audit log

Revision ID: 0001_kit
Revises:
Create Date: 2026-11-29
"""

from servicekit.migrations import create_kit_tables, drop_kit_tables

revision = "0001_kit"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_kit_tables()


def downgrade():
    drop_kit_tables()
