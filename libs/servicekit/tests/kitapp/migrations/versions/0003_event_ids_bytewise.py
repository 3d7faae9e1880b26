"""on PostgreSQL: the outbox's event ids compare byte by byte

Revision ID: 0003_event_ids_bytewise
Revises: 0002_notes
Create Date: 2026-12-05
"""

from servicekit.migrations import byte_compared_event_ids

revision = "0003_event_ids_bytewise"
down_revision = "0002_notes"
branch_labels = None
depends_on = None


def upgrade():
    byte_compared_event_ids()


def downgrade():
    byte_compared_event_ids(upgrade=False)
