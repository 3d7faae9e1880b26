"""oauth: index tokens by code only for those a code exchange issued

Revision ID: 0005_partial_code_indexes
Revises: 0004_code_nonce_index
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_partial_code_indexes"
down_revision = "0004_code_nonce_index"
branch_labels = None
depends_on = None

INDEXES = {
    "oauth_refresh_tokens": "ix_oauth_refresh_tokens_code_id",
    "oauth_access_tokens": "ix_oauth_access_tokens_code_id",
}
FROM_A_CODE = sa.text("code_id IS NOT NULL")


def upgrade():
    for table, index in INDEXES.items():
        op.drop_index(index, table_name=table)
        op.create_index(
            index, table, ["code_id"], postgresql_where=FROM_A_CODE, sqlite_where=FROM_A_CODE
        )


def downgrade():
    for table, index in INDEXES.items():
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["code_id"])
