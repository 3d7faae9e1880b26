"""import lease: the heartbeat and the attempts of an import run, to recover abandoned runs

Revision ID: 0005_import_lease
Revises: 0004_name_order_indexes
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from servicekit.models import UTCDateTime

revision = "0005_import_lease"
down_revision = "0004_name_order_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_runs") as table:
        table.add_column(sa.Column("heartbeat_at", UTCDateTime(timezone=True), nullable=True))
        table.add_column(
            sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("import_runs") as table:
        table.drop_column("attempts")
        table.drop_column("heartbeat_at")
