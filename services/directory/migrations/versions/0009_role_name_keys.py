"""roles carry their practitioner's name keys: a search by speciality and name reads one index

Revision ID: 0009_role_name_keys
Revises: 0008_search_covering_indexes
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_role_name_keys"
down_revision = "0008_search_covering_indexes"
branch_labels = None
depends_on = None

COPY_NAME_KEYS = """
UPDATE practitioner_roles SET
    family_search = (SELECT p.family_search FROM practitioners p
                     WHERE p.id = practitioner_roles.practitioner_id),
    given_search = (SELECT p.given_search FROM practitioners p
                    WHERE p.id = practitioner_roles.practitioner_id)
"""
ORDERS = {
    "ix_practitioner_roles_specialty_family": ["family_search", "given_search"],
    "ix_practitioner_roles_specialty_given": ["given_search", "family_search"],
}


def _search_text(length):
    return (
        sa.String(length)
        .with_variant(sa.String(length, collation="C"), "postgresql")
        .with_variant(sa.String(length, collation="NOCASE"), "sqlite")
    )


def upgrade():
    for column in ("family_search", "given_search"):
        op.add_column(
            "practitioner_roles",
            sa.Column(column, _search_text(100), nullable=False, server_default=""),
        )
    op.execute(COPY_NAME_KEYS)
    op.drop_index("ix_practitioner_roles_savoir_faire_code", table_name="practitioner_roles")
    for name, names in ORDERS.items():
        columns = ["savoir_faire_code", *names, "practitioner_id", "id", "organization_id"]
        op.create_index(name, "practitioner_roles", columns)


def downgrade():
    for name in ORDERS:
        op.drop_index(name, table_name="practitioner_roles")
    op.create_index(
        "ix_practitioner_roles_savoir_faire_code", "practitioner_roles", ["savoir_faire_code"]
    )
    with op.batch_alter_table("practitioner_roles") as batch_op:
        batch_op.drop_column("given_search")
        batch_op.drop_column("family_search")
