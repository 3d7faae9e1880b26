"""notes: the test application's own table

Revision ID: 0002_notes
Revises: 0001_kit
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_notes"
down_revision = "0001_kit"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )


def downgrade():
    op.drop_table("notes")
