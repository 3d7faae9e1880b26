"""oauth: index authorization codes by (client_id, nonce) for the nonce replay check

Revision ID: 0004_code_nonce_index
Revises: 0003_oauth
Create Date: 2026-11-29
"""

from alembic import op

revision = "0004_code_nonce_index"
down_revision = "0003_oauth"
branch_labels = None
depends_on = None

INDEX = "ix_oauth_authorization_codes_client_id_nonce"


def upgrade():
    op.create_index(INDEX, "oauth_authorization_codes", ["client_id", "nonce"])


def downgrade():
    op.drop_index(INDEX, table_name="oauth_authorization_codes")
