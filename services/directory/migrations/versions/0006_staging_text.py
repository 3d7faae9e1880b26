"""import staging: records as JSON text (the importer encodes them itself), an unchanged mark

Revision ID: 0006_staging_text
Revises: 0005_import_lease
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_staging_text"
down_revision = "0005_import_lease"
branch_labels = None
depends_on = None


def upgrade():
    # Staged rows only live during a run: an upgrade finds none, or those of an abandoned run.
    with op.batch_alter_table("import_staging") as table:
        table.alter_column(
            "data", type_=sa.Text(), existing_type=sa.JSON(), postgresql_using="data::text"
        )
        table.add_column(
            sa.Column("unchanged", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("import_staging") as table:
        table.drop_column("unchanged")
        table.alter_column(
            "data", type_=sa.JSON(), existing_type=sa.Text(), postgresql_using="data::json"
        )
