"""oauth: clients, authorization codes, refresh tokens, issued access tokens, signing keys

Revision ID: 0003_oauth
Revises: 0002_accounts
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from servicekit.models import UTCDateTime

revision = "0003_oauth"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name, nullable=False):
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "oauth_clients",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("backchannel_logout_uri", sa.String(500), nullable=True),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(500), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    op.create_table(
        "oauth_authorization_codes",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(255), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("code_challenge_method", sa.String(10), nullable=False),
        sa.Column("acr", sa.String(50), nullable=False),
        _when("auth_time"),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_authorization_codes_code_hash")),
    )
    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", BIGINT, nullable=True),
        sa.Column("code_id", sa.BigInteger(), nullable=True),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("acr", sa.String(50), nullable=False),
        _when("auth_time"),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        _when("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["oauth_refresh_tokens.id"],
            name=op.f("fk_oauth_refresh_tokens_parent_id_oauth_refresh_tokens"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oauth_refresh_tokens_token_hash")),
    )
    for column in ("family_id", "code_id", "user_id", "sid"):
        op.create_index(op.f(f"ix_oauth_refresh_tokens_{column}"), "oauth_refresh_tokens", [column])
    op.create_table(
        "oauth_access_tokens",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("sid", sa.String(64), nullable=True),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.Column("code_id", sa.BigInteger(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        _when("issued_at"),
        _when("expires_at"),
        _when("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_access_tokens")),
        sa.UniqueConstraint("jti", name=op.f("uq_oauth_access_tokens_jti")),
    )
    for column in ("sid", "family_id", "code_id"):
        op.create_index(op.f(f"ix_oauth_access_tokens_{column}"), "oauth_access_tokens", [column])
    op.create_table(
        "oauth_signing_keys",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        _when("created_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_oauth_signing_keys_kid")),
    )


def downgrade():
    op.drop_table("oauth_signing_keys")
    for column in ("sid", "family_id", "code_id"):
        op.drop_index(op.f(f"ix_oauth_access_tokens_{column}"), table_name="oauth_access_tokens")
    op.drop_table("oauth_access_tokens")
    for column in ("family_id", "code_id", "user_id", "sid"):
        op.drop_index(op.f(f"ix_oauth_refresh_tokens_{column}"), table_name="oauth_refresh_tokens")
    op.drop_table("oauth_refresh_tokens")
    op.drop_table("oauth_authorization_codes")
    op.drop_table("oauth_clients")
