"""no index on practitioners.rpps: an RPPS number is found as its national id, 8 + RPPS

Revision ID: 0011_rpps_by_national_id
Revises: 0010_unsearched_indexes
Create Date: 2026-12-05
"""

from alembic import op

revision = "0011_rpps_by_national_id"
down_revision = "0010_unsearched_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_practitioners_rpps", table_name="practitioners")


def downgrade():
    op.create_index("ix_practitioners_rpps", "practitioners", ["rpps"], unique=False)
