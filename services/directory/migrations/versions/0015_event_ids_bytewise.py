"""on PostgreSQL: the outbox's event ids compare byte by byte (decision 63)

Revision ID: 0015_event_ids_bytewise
Revises: 0014_speciality_indexes_partial
Create Date: 2026-12-05
"""

from servicekit.migrations import byte_compared_event_ids

revision = "0015_event_ids_bytewise"
down_revision = "0014_speciality_indexes_partial"
branch_labels = None
depends_on = None


def upgrade():
    byte_compared_event_ids()


def downgrade():
    byte_compared_event_ids(upgrade=False)
