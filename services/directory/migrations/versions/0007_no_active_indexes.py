"""no index on `active`: nearly every row is active, and the index led SQLite astray

Revision ID: 0007_no_active_indexes
Revises: 0006_staging_text
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007_no_active_indexes"
down_revision = "0006_staging_text"
branch_labels = None
depends_on = None

TABLES = ("organizations", "practitioners", "practitioner_roles", "mailboxes")


def upgrade():
    # With `active IS 1` in a query, SQLite walked the index on active (every row) rather than
    # the unique key or the primary key the query named, then sorted.
    for table in TABLES:
        op.drop_index(f"ix_{table}_active", table_name=table)


def downgrade():
    for table in TABLES:
        op.create_index(f"ix_{table}_active", table, ["active"], unique=False)
