"""The Authlib authorization server: code + PKCE (S256 only), refresh rotation, client credentials.

No implicit and no password grant are registered, so Authlib answers unsupported_grant_type /
unsupported_response_type for them.
"""

import dataclasses
import datetime as dt
import logging
import time
import uuid

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.util import create_half_hash
from flask import Request, current_app, g
from prometheus_client import Counter
from servicekit import audit, db
from servicekit.events import emit, event_row
from servicekit.models import utcnow

from identity.models import LoginSession, User
from identity.oauth import tokens
from identity.oauth.models import (
    AuthorizationCode,
    OAuthClient,
    PresentedRefreshToken,
    RefreshToken,
    token_hash,
)

log = logging.getLogger(__name__)

TOKENS_ISSUED = Counter(
    "enrs_identity_tokens_issued_total", "Access tokens issued, by grant type", ["grant_type"]
)
REFRESH_REUSES = Counter(
    "enrs_identity_refresh_token_reuses_total", "Used refresh tokens presented again"
)

EXTENSION = "identity.oauth"
SCOPES = ("openid", "profile", "email", "offline_access", "roles")
CODE_LIFETIME = 60
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def user_info(user, scope):
    """The claims about a user that a token with `scope` may read."""
    scopes = set((scope or "").split())
    claims = {"sub": str(user.id)}
    if "profile" in scopes or "openid" in scopes:
        claims.update(
            name=user.display_name,
            given_name=user.given_name,
            family_name=user.family_name,
            preferred_username=user.username,
        )
    if "email" in scopes and user.email:
        claims["email"] = user.email
    if "roles" in scopes:
        claims["roles"] = list(user.roles or [])
    if user.rpps:
        claims["rpps"] = user.rpps
    return claims


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only: a missing challenge and the `plain` method are refused."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("A PKCE 'code_challenge' (method S256) is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)


# Checked on every authorization request (through the (client_id, nonce) index), built once.
_CODES = AuthorizationCode.__table__
_NONCE_SEEN = (
    sa.select(_CODES.c.id)
    .where(_CODES.c.client_id == sa.bindparam("client_id"), _CODES.c.nonce == sa.bindparam("nonce"))
    .limit(1)
)


class OpenIDCode(oidc_grants.OpenIDCode):
    """ID tokens signed RS256 with identity's current key, typ JWT, aud = client_id."""

    def exists_nonce(self, nonce, request):
        # Authlib asks twice per authorization request (consent, then authorization): the
        # answer is kept for the rest of the HTTP request, which issues one code at most.
        values = {"client_id": request.payload.client_id, "nonce": nonce}
        seen = g.setdefault("oidc_nonces_seen", {})
        key = (values["client_id"], nonce)
        if key not in seen:
            found = db.session().connection().execute(_NONCE_SEEN, values).first()
            seen[key] = found is not None
        return seen[key]

    def generate_user_info(self, user, scope):
        return user_info(user.user, scope)

    def encode_id_token(self, token, request):
        config = current_app.config
        code = request.authorization_code
        now = int(utcnow().timestamp())
        claims = {
            "iss": config["OIDC_ISSUER"],
            "aud": request.client.client_id,
            "iat": now,
            "exp": now + int(config.get("ID_TOKEN_LIFETIME", 600)),
            "sid": code.sid,
            **self.get_authorization_code_claims(code),
            **self.generate_user_info(request.user, token["scope"]),
        }
        claims["at_hash"] = create_half_hash(token["access_token"], "RS256").decode()
        return tokens.sign(claims, "JWT")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code, request):
        grantee = request.user
        data = request.payload.data
        row = AuthorizationCode(
            code_hash=token_hash(code),
            client_id=request.client.client_id,
            user_id=grantee.user.id,
            sid=grantee.sid,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            nonce=data.get("nonce"),
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            acr=grantee.acr,
            auth_time=grantee.auth_time,
            expires_at=utcnow() + dt.timedelta(seconds=CODE_LIFETIME),
        )
        db.session().add(row)

    def query_authorization_code(self, code, client):
        session = db.session()
        row = session.scalar(
            sa.select(AuthorizationCode).where(
                AuthorizationCode.code_hash == token_hash(code),
                AuthorizationCode.client_id == client.client_id,
            )
        )
        if row is None:
            return None
        if not tokens.claim_once(session, AuthorizationCode, row.id):
            log.warning("authorization code replayed", extra={"client_id": client.client_id})
            tokens.revoke_code_tokens(session, row.id)
            return None
        return None if row.is_expired() else row

    def delete_authorization_code(self, authorization_code):
        # Already marked used by query_authorization_code: kept to detect replays.
        pass

    def authenticate_user(self, authorization_code):
        login = db.session().get(LoginSession, authorization_code.sid)
        if login is None or not login.is_active() or login.user.disabled:
            return None
        return tokens.Grantee(
            user=login.user,
            sid=login.id,
            acr=authorization_code.acr,
            auth_time=authorization_code.auth_time,
            code_id=authorization_code.id,
        )


def _lapse_reason(expires_at, last_seen_at, now):
    """Why a login session has lapsed ("expired", "idle"), or None while it is alive."""
    if expires_at <= now:
        return "expired"
    idle = dt.timedelta(seconds=current_app.config.get("SESSION_IDLE_SECONDS", 30 * 60))
    return "idle" if now - last_seen_at >= idle else None


@dataclasses.dataclass(frozen=True)
class TokenOwner:
    """What a refresh grant reads of the account it issues tokens for (never its password)."""

    id: uuid.UUID
    username: str
    given_name: str
    family_name: str
    email: str | None
    rpps: str | None
    roles: list[str]


_TOKENS = RefreshToken.__table__
_OWNERS = User.__table__
_LOGINS = LoginSession.__table__
# What a refresh needs of the token, its user and its sign-in session.
_TOKEN_COLUMNS = tuple(field.name for field in dataclasses.fields(PresentedRefreshToken))
_OWNER_COLUMNS = tuple(field.name for field in dataclasses.fields(TokenOwner))
_LOGIN_COLUMNS = ("id", "ended_at", "expires_at", "last_seen_at")


def _prefixed(table, names, prefix):
    return [table.c[name].label(prefix + name) for name in names]


# One Core round trip for the token, its user and its sign-in session: loading them as three
# ORM objects cost more than the query. The token and its user come back as plain copies,
# never written through the session; the grant's writes are Core statements.
_REFRESH_LOOKUP = (
    sa.select(
        *_prefixed(_TOKENS, _TOKEN_COLUMNS, "token_"),
        *_prefixed(_OWNERS, (*_OWNER_COLUMNS, "disabled"), "owner_"),
        *_prefixed(_LOGINS, _LOGIN_COLUMNS, "login_"),
    )
    .select_from(_TOKENS)
    .outerjoin(_OWNERS, _OWNERS.c.id == _TOKENS.c.user_id)
    .outerjoin(_LOGINS, _LOGINS.c.id == _TOKENS.c.sid)
    .where(_TOKENS.c.token_hash == sa.bindparam("token_hash"))
)


def _unprefixed(found, prefix, names):
    return {name: getattr(found, prefix + name) for name in names}


_TOUCH_LOGIN = (
    _LOGINS.update()
    .where(_LOGINS.c.id == sa.bindparam("sid"))
    .values(last_seen_at=sa.bindparam("now"))
)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        session = db.session()
        values = {"token_hash": token_hash(refresh_token)}
        found = session.connection().execute(_REFRESH_LOOKUP, values).first()
        if found is None:
            return None
        row = PresentedRefreshToken(**_unprefixed(found, "token_", _TOKEN_COLUMNS))
        if not row.check_client(self.request.client):
            return None
        if row.is_revoked() or row.is_expired():
            return None
        if found.owner_id is None or found.owner_disabled:
            raise InvalidGrantError("The account is disabled.")
        user = TokenOwner(**_unprefixed(found, "owner_", _OWNER_COLUMNS))
        self._check_login_session(session, found, row.sid)
        # Marked used by save_token, in the statement that writes its successor.
        self._owner = user
        return row

    @staticmethod
    def _check_login_session(session, found, sid):
        """Refresh tokens live no longer than the sign-in session; a refresh is activity in it."""
        from identity import sessions

        if found.login_id is None or found.login_ended_at is not None:
            raise InvalidGrantError("The sign-in session has ended.")
        now = utcnow()
        reason = _lapse_reason(found.login_expires_at, found.login_last_seen_at, now)
        if reason:
            sessions.end_login_session(session, session.get(LoginSession, sid), reason)
            raise InvalidGrantError("The sign-in session has ended.")
        if now - found.login_last_seen_at >= sessions.TOUCH_EVERY:
            session.connection().execute(_TOUCH_LOGIN, {"sid": sid, "now": now})

    def _reuse_detected(self, session, row, user):
        log.warning("refresh token reused; family revoked", extra={"client_id": row.client_id})
        tokens.revoke_family(session, row.family_id)
        REFRESH_REUSES.inc()
        data = {"user_id": str(user.id), "username": user.username, "client_id": row.client_id}
        emit(session, "fr.enrs.identity.token.reuse-detected", str(user.id), data)
        audit.record(
            session,
            str(user.id),
            "token.reuse-detected",
            purpose="security",
            outcome="refused",
            target=row.client_id,
        )

    def authenticate_user(self, refresh_token):
        user = getattr(self, "_owner", None)
        if user is None or user.id != refresh_token.user_id:
            user = db.session().get(User, refresh_token.user_id)
        return tokens.Grantee(
            user=user,
            sid=refresh_token.sid,
            acr=refresh_token.acr,
            auth_time=refresh_token.auth_time,
            family_id=refresh_token.family_id,
            parent_id=refresh_token.id,
        )

    def revoke_old_credential(self, refresh_token):
        # Already marked used by save_token: a second use is a reuse.
        pass

    def save_token(self, token):
        """Mark the presented token used and write its successor, the refresh's event and audit
        entry: one statement on PostgreSQL, where the writes happen only if the token was still
        unused. A token already used is a reuse: its family is revoked and nothing is issued.
        """
        used = self.request.refresh_token
        user = self.request.user.user
        client_id = self.client.client_id
        data = {"user_id": str(user.id), "username": user.username, "client_id": client_id}
        also = [
            event_row("fr.enrs.identity.token.refreshed", str(user.id), data),
            audit.entry(str(user.id), "token.refreshed", purpose="security", target=client_id),
        ]
        claim = tokens.claim_guard(RefreshToken, used.id)
        if not self.server.save_token(token, self.request, also, guard=claim):
            self._reuse_detected(db.session(), used, user)
            raise InvalidGrantError()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS


# Built once: every token request looks its client up, and building the statement costs about
# as much as running it.
_CLIENTS = OAuthClient.__table__
_CLIENT_BY_ID = sa.select(_CLIENTS).where(_CLIENTS.c.client_id == sa.bindparam("client_id"))
CLIENT_CACHE_SECONDS = 10


class ClientCache:
    """Registered clients by id, kept a few seconds in each worker.

    Every token request authenticates its client; clients change rarely (`flask client create`),
    so a change made by another process shows within `seconds`, and at once in this process
    (the command clears the cache). Entries are unattached copies, never written back; unknown
    ids are not kept, so the cache holds registered clients only.
    """

    def __init__(self, seconds=CLIENT_CACHE_SECONDS, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._entries = {}

    def get(self, client_id, load):
        """The client with this id, from the cache or from load(client_id) (None if unknown)."""
        now = self.clock()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        client = load(client_id)
        if client is not None and self.seconds > 0:
            self._entries[client_id] = (now + self.seconds, client)
        return client

    def clear(self):
        self._entries = {}


def _load_client(client_id):
    row = db.session().connection().execute(_CLIENT_BY_ID, {"client_id": client_id}).first()
    return OAuthClient(**row._mapping) if row is not None else None


class OAuthServer(AuthorizationServer):
    """identity's authorization server; clients and tokens live in identity's database."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.clients = ClientCache()

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        self.clients.seconds = app.config.get("OAUTH_CLIENT_CACHE_SECONDS", CLIENT_CACHE_SECONDS)

    def create_oauth2_request(self, request):
        # Authlib's Flask server reads the current request whatever it is given; a sign-in
        # continues the authorization request it interrupted, which is not the current one.
        if isinstance(request, Request):
            return FlaskOAuth2Request(request)
        return super().create_oauth2_request(request)

    def query_client(self, client_id):
        if not isinstance(client_id, str):
            return None
        return self.clients.get(client_id, _load_client)

    def save_token(self, token, request, also=(), guard=None):
        """Write the token's rows; False (nothing written) when `guard` changed no row."""
        if not tokens.save(db.session(), token, request.client, request.user, also, guard):
            return False
        TOKENS_ISSUED.labels(request.payload.grant_type).inc()
        return True


def create_server(app):
    """The authorization server of app, with its grants and endpoints."""
    from identity.oauth.logout import EndSession
    from identity.oauth.revocation import Revocation

    server = OAuthServer()
    server.init_app(app)
    server.register_token_generator("default", tokens.generate)
    server.scopes_supported = list(SCOPES)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode()])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(EndSession)
    app.extensions[EXTENSION] = server
    return server


def authorization_server():
    """The current app's authorization server."""
    return current_app.extensions[EXTENSION]


def decode_own_token(token, token_type="at+jwt"):  # noqa: S107 - a JWT type
    """Claims of a token identity signed (verified), or None."""
    from servicekit.auth import InvalidToken, verifier

    try:
        return verifier().verify(token, expected_type=token_type)
    except InvalidToken:
        return None
