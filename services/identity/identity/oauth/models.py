"""The OpenID provider's tables: clients, codes, refresh tokens, issued access tokens, keys.

Codes and refresh tokens are stored as SHA-256 hashes: they are long random strings, so a hash
is enough and a database leak does not hand out live credentials.
"""

import dataclasses
import datetime as dt
import hashlib
import hmac
import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin
from servicekit.models import UTCDateTime, created, intpk, utcnow

from identity.models import Base

PUBLIC_AUTH_METHODS = ("none",)
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def token_hash(value):
    """The stored form of a code or refresh token."""
    return hashlib.sha256(value.encode()).hexdigest()


def hash_secret(secret):
    """The stored form of a client secret.

    SHA-256 is enough because client secrets must be long random strings (the CLI refuses short
    ones); a slow password hash would cost every token request tens of milliseconds.
    """
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


class OAuthClient(Base, ClientMixin):
    """An application allowed to get tokens: the portal, or a service calling another one."""

    __tablename__ = "oauth_clients"

    id: so.Mapped[intpk]
    client_id: so.Mapped[str] = so.mapped_column(sa.String(100), unique=True)
    secret_hash: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    redirect_uris: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    post_logout_redirect_uris: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    backchannel_logout_uri: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    grant_types: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    scope: so.Mapped[str] = so.mapped_column(sa.String(500), default="")
    roles: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    created_at: so.Mapped[created]

    @property
    def is_public(self):
        return self.secret_hash is None

    @property
    def client_metadata(self):
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris or [])}

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # No default: the redirect_uri parameter is always required and matched exactly.
        return None

    def get_allowed_scope(self, scope):
        allowed = scope_to_list(self.scope) or []
        if not scope:
            return list_to_scope(allowed)
        return list_to_scope([item for item in scope_to_list(scope) if item in allowed])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in (self.redirect_uris or [])

    def check_client_secret(self, client_secret):
        if self.secret_hash is None or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(self.secret_hash, hash_secret(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        allowed = PUBLIC_AUTH_METHODS if self.is_public else CONFIDENTIAL_AUTH_METHODS
        return method in allowed

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in (self.grant_types or [])


class AuthorizationCode(Base, AuthorizationCodeMixin):
    """A one-time code handed to the browser, exchanged once (within 60 s) for tokens."""

    __tablename__ = "oauth_authorization_codes"
    # OpenID Connect's nonce check looks codes up by client and nonce on every authorization.
    __table_args__ = (
        sa.Index("ix_oauth_authorization_codes_client_id_nonce", "client_id", "nonce"),
    )

    id: so.Mapped[intpk]
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    client_id: so.Mapped[str] = so.mapped_column(sa.String(100))
    user_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid)
    sid: so.Mapped[str] = so.mapped_column(sa.String(64))
    redirect_uri: so.Mapped[str] = so.mapped_column(sa.Text)
    scope: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    nonce: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    code_challenge: so.Mapped[str] = so.mapped_column(sa.String(128))
    code_challenge_method: so.Mapped[str] = so.mapped_column(sa.String(10))
    acr: so.Mapped[str] = so.mapped_column(sa.String(50))
    auth_time: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[created]
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return int(self.auth_time.timestamp())

    def get_acr(self):
        return self.acr

    def is_expired(self, now=None):
        return self.expires_at <= (now or utcnow())


FROM_A_CODE = sa.text("code_id IS NOT NULL")


def _issued_from_a_code(name):
    """An index of the tokens issued by a code exchange, looked up when a code is replayed.

    Tokens issued by a refresh have no code: left out of the index, a refresh grant writes two
    pages fewer (of about twenty). A lookup by code_id = value implies the condition, so both
    databases use it.
    """
    return sa.Index(name, "code_id", postgresql_where=FROM_A_CODE, sqlite_where=FROM_A_CODE)


class RefreshTokenTerms(TokenMixin):
    """What Authlib asks of a refresh token, for the mapped row and its plain copy alike."""

    def check_client(self, client):
        return hmac.compare_digest(self.client_id, client.get_client_id())

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int((self.expires_at - self.created_at).total_seconds())

    def is_expired(self, now=None):
        return self.expires_at <= (now or utcnow())

    def is_revoked(self):
        return self.revoked_at is not None


class RefreshToken(Base, RefreshTokenTerms):
    """One link of a rotation chain; the chain (family) dies as a whole on reuse or logout."""

    __tablename__ = "oauth_refresh_tokens"
    __table_args__ = (_issued_from_a_code("ix_oauth_refresh_tokens_code_id"),)

    id: so.Mapped[intpk]
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    family_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, index=True)
    parent_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("oauth_refresh_tokens.id", ondelete="SET NULL")
    )
    code_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    client_id: so.Mapped[str] = so.mapped_column(sa.String(100))
    # Not indexed: a user's tokens are found through the user's sign-in sessions (sid).
    user_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid)
    sid: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    scope: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    acr: so.Mapped[str] = so.mapped_column(sa.String(50))
    auth_time: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[created]
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)


@dataclasses.dataclass(frozen=True)
class PresentedRefreshToken(RefreshTokenTerms):
    """A refresh token's row as a refresh grant reads it: a plain copy, never written back
    (building a mapped object for it cost more than the query that read it)."""

    id: int
    family_id: uuid.UUID
    client_id: str
    user_id: uuid.UUID
    sid: str
    scope: str
    acr: str
    auth_time: dt.datetime
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class IssuedAccessToken(Base, TokenMixin):
    """What identity remembers of an access token it signed: enough to revoke it."""

    __tablename__ = "oauth_access_tokens"
    __table_args__ = (_issued_from_a_code("ix_oauth_access_tokens_code_id"),)

    id: so.Mapped[intpk]
    jti: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    client_id: so.Mapped[str] = so.mapped_column(sa.String(100))
    user_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.Uuid)
    sid: so.Mapped[str | None] = so.mapped_column(sa.String(64), index=True)
    family_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.Uuid, index=True)
    code_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    scope: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    issued_at: so.Mapped[created]
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)

    def check_client(self, client):
        return hmac.compare_digest(self.client_id, client.get_client_id())

    def get_scope(self):
        return self.scope

    def is_expired(self, now=None):
        return self.expires_at <= (now or utcnow())

    def is_revoked(self):
        return self.revoked_at is not None


class SigningKey(Base):
    """An RSA key pair signing tokens; the private half is encrypted with a key from SECRET_KEY."""

    __tablename__ = "oauth_signing_keys"

    id: so.Mapped[intpk]
    kid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    private_key_encrypted: so.Mapped[str] = so.mapped_column(sa.Text)
    public_key_pem: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[created]
    active: so.Mapped[bool] = so.mapped_column(default=True)
    retired_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
