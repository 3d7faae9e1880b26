"""combined searches: indexes that answer a name, speciality and place search without table reads

Revision ID: 0008_search_covering_indexes
Revises: 0007_no_active_indexes
Create Date: 2026-11-29
"""

from alembic import op

revision = "0008_search_covering_indexes"
down_revision = "0007_no_active_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index(op.f("ix_practitioners_family_search_given_search"), table_name="practitioners")
    op.drop_index(op.f("ix_practitioners_given_search_family_search"), table_name="practitioners")
    op.create_index(
        op.f("ix_practitioners_family_search_given_search_id"),
        "practitioners",
        ["family_search", "given_search", "id"],
    )
    op.create_index(
        op.f("ix_practitioners_given_search_family_search_id"),
        "practitioners",
        ["given_search", "family_search", "id"],
    )
    op.drop_index(op.f("ix_organizations_postcode"), table_name="organizations")
    op.create_index(op.f("ix_organizations_postcode_id"), "organizations", ["postcode", "id"])
    op.create_index(
        "ix_practitioner_roles_practitioner_search",
        "practitioner_roles",
        ["practitioner_id", "savoir_faire_code", "organization_id", "id"],
    )


def downgrade():
    op.drop_index("ix_practitioner_roles_practitioner_search", table_name="practitioner_roles")
    op.drop_index(op.f("ix_organizations_postcode_id"), table_name="organizations")
    op.create_index(op.f("ix_organizations_postcode"), "organizations", ["postcode"])
    op.drop_index(
        op.f("ix_practitioners_given_search_family_search_id"), table_name="practitioners"
    )
    op.drop_index(
        op.f("ix_practitioners_family_search_given_search_id"), table_name="practitioners"
    )
    op.create_index(
        op.f("ix_practitioners_given_search_family_search"),
        "practitioners",
        ["given_search", "family_search"],
    )
    op.create_index(
        op.f("ix_practitioners_family_search_given_search"),
        "practitioners",
        ["family_search", "given_search"],
    )
