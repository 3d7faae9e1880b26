"""import staging: what an import run read, diffed against the stored rows at its end

Revision ID: 0003_import_staging
Revises: 0002_directory
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_import_staging"
down_revision = "0002_directory"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_staging",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_runs.id"],
            name=op.f("fk_import_staging_run_id_import_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "entity", "key", name=op.f("pk_import_staging")),
    )


def downgrade():
    op.drop_table("import_staging")
