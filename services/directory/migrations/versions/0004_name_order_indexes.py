"""name searches: indexes in the order a page shows its matches

Revision ID: 0004_name_order_indexes
Revises: 0003_import_staging
Create Date: 2026-11-29
"""

from alembic import op

revision = "0004_name_order_indexes"
down_revision = "0003_import_staging"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index(op.f("ix_practitioners_family_search"), table_name="practitioners")
    op.drop_index(op.f("ix_practitioners_given_search"), table_name="practitioners")
    op.create_index(
        op.f("ix_practitioners_family_search_given_search"),
        "practitioners",
        ["family_search", "given_search"],
    )
    op.create_index(
        op.f("ix_practitioners_given_search_family_search"),
        "practitioners",
        ["given_search", "family_search"],
    )


def downgrade():
    op.drop_index(op.f("ix_practitioners_given_search_family_search"), table_name="practitioners")
    op.drop_index(op.f("ix_practitioners_family_search_given_search"), table_name="practitioners")
    op.create_index(op.f("ix_practitioners_given_search"), "practitioners", ["given_search"])
    op.create_index(op.f("ix_practitioners_family_search"), "practitioners", ["family_search"])
