"""Issuing and remembering tokens: signed access tokens, refresh-token chains, revocation."""

import base64
import dataclasses
import datetime as dt
import json
import secrets
import uuid

import jwt
import sqlalchemy as sa
from flask import current_app
from servicekit import db
from servicekit.models import utcnow
from servicekit.rows import insert_rows

from identity.models import LoginSession
from identity.oauth import keys
from identity.oauth.models import (
    AuthorizationCode,
    IssuedAccessToken,
    RefreshToken,
    token_hash,
)

MAX_ACCESS_TOKEN_LIFETIME = 300
PURGE_AFTER = dt.timedelta(days=1)


@dataclasses.dataclass
class Grantee:
    """The user a grant acts for, with the login session and the chain it belongs to."""

    user: object
    sid: str  # the LoginSession id
    acr: str
    auth_time: dt.datetime
    code_id: int | None = None
    family_id: uuid.UUID | None = None
    parent_id: int | None = None

    def get_user_id(self):
        return str(self.user.id)


def access_token_lifetime(config):
    return min(int(config.get("ACCESS_TOKEN_LIFETIME", 300)), MAX_ACCESS_TOKEN_LIFETIME)


def _access_claims(config, client, grantee, scope, lifetime):
    now = int(utcnow().timestamp())
    claims = {
        "iss": config["OIDC_ISSUER"],
        "aud": config["OIDC_AUDIENCE"],
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "scope": scope,
        "client_id": client.client_id,
    }
    if grantee is None:
        claims.update(sub=client.client_id, roles=list(client.roles or []))
        return claims
    user = grantee.user
    claims.update(sub=str(user.id), roles=list(user.roles or []), sid=grantee.sid, acr=grantee.acr)
    if user.rpps:
        claims["rpps"] = user.rpps
    return claims


def sign(claims, token_type, db_session=None):
    """Claims signed RS256 with the current key; the header names the kid and the type."""
    kid, private_key = keys.signer(db_session or db.session(), current_app.config)
    return jwt.encode(
        claims, private_key, algorithm="RS256", headers={"kid": kid, "typ": token_type}
    )


def generate(
    grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True
):
    """Authlib's token generator: a JWT access token, and a refresh token when allowed."""
    config = current_app.config
    scope = client.get_allowed_scope(scope)
    lifetime = access_token_lifetime(config)
    claims = _access_claims(config, client, user, scope, lifetime)
    token = {
        "token_type": "Bearer",
        "access_token": sign(claims, "at+jwt"),
        "expires_in": lifetime,
        "scope": scope,
    }
    if include_refresh_token and user is not None and "offline_access" in scope.split():
        token["refresh_token"] = secrets.token_urlsafe(48)
    return token


def save(session, token, client, grantee, also=(), guard=None):
    """Remember a user's access token (to revoke it) and the refresh token, if any.

    `also`: more (table, values) rows to write with them, such as the grant's event and audit
    entry (one statement on PostgreSQL, see servicekit.rows.insert_rows). `guard`: an UPDATE
    that must change a row for anything to be written (claim_guard); returns whether it did.

    A client-credentials token (no grantee) is not stored: revocation is only ever consulted by
    identity's userinfo, which answers for users' tokens only, while the services verify tokens
    by signature alone. A row per service token would be written and never read; such a token
    dies with its lifetime (5 minutes at most), and a leaked client secret is replaced.
    """
    if grantee is None:
        return insert_rows(session, list(also), guard)
    rows = []
    if "refresh_token" in token:
        grantee.family_id = grantee.family_id or uuid.uuid4()
        rows.append((RefreshToken.__table__, _refresh_values(token, client, grantee)))
    claims = _own_claims(token["access_token"])
    issued = {
        "jti": claims["jti"],
        "client_id": client.client_id,
        "user_id": grantee.user.id,
        "sid": grantee.sid,
        "code_id": grantee.code_id,
        "family_id": grantee.family_id,
        "scope": token.get("scope", ""),
        "issued_at": utcnow(),
        "expires_at": dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
    }
    rows.append((IssuedAccessToken.__table__, issued))
    # Core INSERTs in the request's transaction: nothing reads these rows back in the request,
    # so tracking them in the unit of work until commit would only add cost.
    return insert_rows(session, [*rows, *also], guard)


def _own_claims(access_token):
    # The token was signed a moment ago by this process: read its payload without checking it
    # again (PyJWT's decode validates every character in Python).
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _refresh_values(token, client, grantee):
    lifetime = int(current_app.config.get("REFRESH_TOKEN_LIFETIME", 12 * 3600))
    return {
        "token_hash": token_hash(token["refresh_token"]),
        "family_id": grantee.family_id,
        "parent_id": grantee.parent_id,
        "code_id": grantee.code_id,
        "client_id": client.client_id,
        "user_id": grantee.user.id,
        "sid": grantee.sid,
        "scope": token.get("scope", ""),
        "acr": grantee.acr,
        "auth_time": grantee.auth_time,
        "created_at": utcnow(),
        "expires_at": utcnow() + dt.timedelta(seconds=lifetime),
    }


def _claim_statement(model):
    table = model.__table__
    return (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"), table.c.used_at.is_(None))
        .values(used_at=sa.bindparam("now"))
    )


# Core statements built once: the ORM's bulk UPDATE path costs several times the query itself.
_CLAIMS = {model: _claim_statement(model) for model in (AuthorizationCode, RefreshToken)}


def claim_once(session, model, row_id):
    """Mark a code or refresh token used; False when it already was (a replay)."""
    statement, values = claim_guard(model, row_id)
    return session.connection().execute(statement, values).rowcount == 1


def claim_guard(model, row_id):
    """The UPDATE that marks a code or refresh token used, for insert_rows(guard=...): it
    changes no row when the code or token already was used."""
    return _CLAIMS[model], {"row_id": row_id, "now": utcnow()}


def _revoke(session, model, *conditions):
    session.execute(
        sa.update(model)
        .where(model.revoked_at.is_(None), *conditions)
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revoke_family(session, family_id):
    """Revoke every refresh token of a rotation chain and the access tokens issued from it."""
    _revoke(session, RefreshToken, RefreshToken.family_id == family_id)
    _revoke(session, IssuedAccessToken, IssuedAccessToken.family_id == family_id)


def revoke_code_tokens(session, code_id):
    """Revoke everything issued from one authorization code, refreshed ones included."""
    families = session.scalars(
        sa.select(RefreshToken.family_id).where(RefreshToken.code_id == code_id).distinct()
    ).all()
    for family_id in families:
        revoke_family(session, family_id)
    _revoke(session, IssuedAccessToken, IssuedAccessToken.code_id == code_id)


def revoke_session_tokens(session, sid):
    """Revoke the tokens of a login session; the ids of the clients that had tokens in it."""
    clients = set(
        session.scalars(sa.select(IssuedAccessToken.client_id).where(IssuedAccessToken.sid == sid))
    )
    clients |= set(
        session.scalars(sa.select(RefreshToken.client_id).where(RefreshToken.sid == sid))
    )
    _revoke(session, RefreshToken, RefreshToken.sid == sid)
    _revoke(session, IssuedAccessToken, IssuedAccessToken.sid == sid)
    return clients


def revoke_user_tokens(session, user_id):
    """Revoke every refresh and access token of a user.

    Found through the user's sign-in sessions, as every token issued to a user belongs to one:
    the token tables are indexed by session, so only the user's own tokens are read (the
    access tokens have no index by user; read by user, every token of every user was), and
    a refresh grant has one index fewer to keep up to date.
    """
    sessions = sa.select(LoginSession.id).where(LoginSession.user_id == user_id)
    _revoke(session, RefreshToken, RefreshToken.sid.in_(sessions))
    _revoke(session, IssuedAccessToken, IssuedAccessToken.sid.in_(sessions))


def is_access_token_revoked(session, jti):
    """True when identity revoked the access token with this jti."""
    revoked_at = session.scalar(
        sa.select(IssuedAccessToken.revoked_at).where(IssuedAccessToken.jti == jti)
    )
    return revoked_at is not None


def purge_expired(session, now=None):
    """Delete codes and tokens past their expiry (kept a day for replay detection); counts."""
    before = (now or utcnow()) - PURGE_AFTER
    counts = {}
    for model in (AuthorizationCode, IssuedAccessToken, RefreshToken):
        result = session.execute(
            sa.delete(model)
            .where(model.expires_at < before)
            .execution_options(synchronize_session=False)
        )
        counts[model.__tablename__] = result.rowcount
    return counts
