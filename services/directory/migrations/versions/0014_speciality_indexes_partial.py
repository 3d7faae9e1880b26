"""the speciality indexes of roles hold only the roles that have a savoir-faire (decision 62)

Revision ID: 0014_speciality_indexes_partial
Revises: 0013_staging_unlogged_byte_keys
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_speciality_indexes_partial"
down_revision = "0013_staging_unlogged_byte_keys"
branch_labels = None
depends_on = None

HAS_SPECIALITY = "savoir_faire_code != ''"  # models.HAS_SPECIALITY
INDEXES = {
    "ix_practitioner_roles_specialty_family": (
        "savoir_faire_code", "family_search", "given_search", "practitioner_id", "id",
        "organization_id",
    ),
    "ix_practitioner_roles_specialty_given": (
        "savoir_faire_code", "given_search", "family_search", "practitioner_id", "id",
        "organization_id",
    ),
}  # fmt: skip


def _recreate(where):
    # A first import that stopped midway left them out: it builds them when it starts again.
    present = {
        index["name"] for index in sa.inspect(op.get_bind()).get_indexes("practitioner_roles")
    }
    for name, columns in INDEXES.items():
        if name not in present:
            continue
        op.drop_index(name, table_name="practitioner_roles")
        partial = (
            {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)} if where else {}
        )
        op.create_index(name, "practitioner_roles", list(columns), **partial)


def upgrade():
    _recreate(HAS_SPECIALITY)


def downgrade():
    _recreate(None)
