"""oauth: refresh tokens are no longer indexed by user

A user's tokens are found through the user's sign-in sessions (indexed by sid); the index by
user only cost every refresh grant one more page to write.

Revision ID: 0006_refresh_tokens_not_by_user
Revises: 0005_partial_code_indexes
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006_refresh_tokens_not_by_user"
down_revision = "0005_partial_code_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_oauth_refresh_tokens_user_id", table_name="oauth_refresh_tokens")


def downgrade():
    op.create_index("ix_oauth_refresh_tokens_user_id", "oauth_refresh_tokens", ["user_id"])
