"""import staging as text: the importer writes and reads the staged records as JSON text itself

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


def downgrade():
    with op.batch_alter_table("import_staging") as table:
        table.alter_column(
            "data", type_=sa.JSON(), existing_type=sa.Text(), postgresql_using="data::json"
        )
