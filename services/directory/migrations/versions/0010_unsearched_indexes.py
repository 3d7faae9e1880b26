"""no index on columns no query looks up: every import paid to keep them

Revision ID: 0010_unsearched_indexes
Revises: 0009_role_name_keys
Create Date: 2026-11-29
"""

from alembic import op

revision = "0010_unsearched_indexes"
down_revision = "0009_role_name_keys"
branch_labels = None
depends_on = None

# ADELI numbers are searched through the national PS identifier (national_id), the legal
# entity through part_of (the same FINESS), and mailboxes are linked by their owners' keys.
UNSEARCHED = {
    "practitioners": ["adeli"],
    "organizations": ["finess_ej"],
    "mailboxes": ["owner_national_id", "structure_id"],
}


def upgrade():
    for table, columns in UNSEARCHED.items():
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade():
    for table, columns in UNSEARCHED.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
