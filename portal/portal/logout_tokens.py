"""Verification of identity's back-channel logout tokens (OpenID Back-Channel Logout 1.0)."""

import datetime as dt

import jwt
import sqlalchemy as sa
from flask import current_app
from servicekit import auth as kit_auth
from servicekit.models import utcnow

from portal.models import LogoutTokenUse

EXTENSION = "portal.logout_keys"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TYPE = "logout+jwt"  # noqa: S105 - a JWT type, not a secret
LEEWAY = 30


class InvalidLogoutToken(Exception):
    """The logout token is malformed, badly signed, or not a logout token for this portal."""


def _keys():
    return current_app.extensions[EXTENSION]


def _header(token):
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidLogoutToken("malformed token") from exc
    if header.get("alg") not in kit_auth.ALGORITHMS:
        raise InvalidLogoutToken("algorithm not allowed")
    if any(name in header for name in kit_auth.FORBIDDEN_HEADERS):
        raise InvalidLogoutToken("key material in the header")
    if str(header.get("typ", "")).lower() != TOKEN_TYPE:
        raise InvalidLogoutToken("not a logout token")
    if not isinstance(header.get("kid"), str):
        raise InvalidLogoutToken("no key id")
    return header


def _decode(token, header):
    config = current_app.config
    try:
        key = _keys().key(header["kid"])
        return jwt.decode(
            token,
            key,
            algorithms=kit_auth.ALGORITHMS,
            audience=config["PORTAL_OIDC_CLIENT_ID"],
            issuer=config["OIDC_ISSUER"],
            leeway=LEEWAY,
            # exp bounds how long a token must be remembered to refuse it a second time.
            options={"require": ["iss", "aud", "iat", "exp", "jti"]},
        )
    except (jwt.PyJWTError, kit_auth.InvalidToken) as exc:
        raise InvalidLogoutToken(f"invalid token: {type(exc).__name__}") from exc


def _check_claims(claims):
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("no back-channel logout event")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token must not carry a nonce")
    if not (isinstance(claims.get("sid"), str) or isinstance(claims.get("sub"), str)):
        raise InvalidLogoutToken("neither sid nor sub")


def verify(token):
    """The claims of a valid logout token, or InvalidLogoutToken."""
    if not token or len(token) > 8000:
        raise InvalidLogoutToken("no token")
    header = _header(token)
    claims = _decode(token, header)
    _check_claims(claims)
    return claims


def first_use(db_session, claims) -> bool:
    """Remember the token's `jti` until it expires; False when it was used already (a replay).

    Tokens that have expired are forgotten on the way: no row outlives its token for long.
    """
    now = utcnow()
    db_session.execute(sa.delete(LogoutTokenUse).where(LogoutTokenUse.expires_at < now))
    expires_at = dt.datetime.fromtimestamp(claims["exp"] + LEEWAY, dt.UTC)
    try:
        with db_session.begin_nested():
            db_session.add(LogoutTokenUse(jti=str(claims["jti"])[:200], expires_at=expires_at))
    except sa.exc.IntegrityError:
        return False
    return True


def init_app(app):
    """Check logout tokens against identity's keys, the very key set access tokens use.

    Sharing it matters: identity waits for our answer while it sends a logout token, so a
    JWKS fetch at that moment could wait on identity itself; the keys are already known then.
    """
    app.extensions[EXTENSION] = kit_auth.verifier(app).keys
