"""on PostgreSQL: import staging is not written to the write-ahead log, and the keys an import
looks rows up and joins them by compare byte by byte (decision 61)

Revision ID: 0013_staging_unlogged_byte_keys
Revises: 0012_recompare_placeless_roles
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_staging_unlogged_byte_keys"
down_revision = "0012_recompare_placeless_roles"
branch_labels = None
depends_on = None

# (table, column, length): the columns of models.KeyText.
KEYS = (
    ("practitioners", "national_id", 20),
    ("organizations", "key", 60),
    ("mailboxes", "address", 254),
    ("import_staging", "entity", 20),
    ("import_staging", "key", 254),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite compares text byte by byte, and has no unlogged tables
    # A run stages every line again on each attempt: after a crash, PostgreSQL empties an
    # unlogged table, and the next attempt stages anew.
    op.execute("ALTER TABLE import_staging SET UNLOGGED")
    for table, column, length in KEYS:
        op.alter_column(
            table, column, type_=sa.String(length, collation="C"), existing_type=sa.String(length)
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in KEYS:
        op.alter_column(
            table, column, type_=sa.String(length), existing_type=sa.String(length, collation="C")
        )
    op.execute("ALTER TABLE import_staging SET LOGGED")
