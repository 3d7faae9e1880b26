"""The portal as an OpenID Connect client of identity (Authlib), and its access-token helpers."""

import datetime as dt
import logging

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app, session
from servicekit import auth as kit_auth
from servicekit.models import utcnow

from portal import sessions
from portal.perthread import PerThread
from portal.sessions import Login

log = logging.getLogger(__name__)

EXTENSION = "portal.oauth"
SCOPES = "openid profile email offline_access roles"
# Refresh a little before expiry so that a call never leaves with a token about to lapse.
REFRESH_MARGIN = dt.timedelta(seconds=30)
PROFILE_CLAIMS = ("name", "given_name", "family_name", "preferred_username", "email")
TOKEN_TIMEOUT = 10
# A refresh holds its browser session's row locked (sessions.refreshing): on SQLite the whole
# database's write lock, which other requests wait for at most 5 s (servicekit.db's busy
# timeout). A refresh gives up before that, and the user sees identity is not answering.
REFRESH_TIMEOUT = 4


class LoginRequired(Exception):
    """The user has no valid login (none, or its tokens can no longer be refreshed)."""


class IdentityUnreachable(Exception):
    """Identity did not answer a token refresh; the login itself may still be good."""


def client(app=None):
    """The registered Authlib client for identity."""
    return (app or current_app).extensions[EXTENSION].identity


def public_url(path):
    """An absolute URL of the portal as the browser sees it (ENRS_PUBLIC_URL)."""
    return current_app.config["ENRS_PUBLIC_URL"].rstrip("/") + path


def _expiry(token):
    if token.get("expires_at"):
        return dt.datetime.fromtimestamp(int(token["expires_at"]), dt.UTC)
    return utcnow() + dt.timedelta(seconds=int(token.get("expires_in", 60)))


def _user(access_claims, id_claims):
    user = {name: id_claims.get(name) for name in PROFILE_CLAIMS if id_claims.get(name)}
    user["sub"] = access_claims["sub"]
    user["roles"] = sorted(access_claims.get("roles") or [])
    if access_claims.get("rpps"):
        user["rpps"] = access_claims["rpps"]
    return user


def login_from_token(token, previous=None):
    """A Login from identity's token response; the access token is verified like any service."""
    access_claims = kit_auth.verifier().verify(token["access_token"])
    id_claims = dict(token.get("userinfo") or {})
    if previous is not None and not id_claims:
        id_claims = previous.user
    return Login(
        user=_user(access_claims, id_claims),
        sub=access_claims["sub"],
        sid=access_claims.get("sid") or id_claims.get("sid"),
        access_token=token["access_token"],
        access_expires_at=_expiry(token),
        refresh_token=token.get("refresh_token") or (previous and previous.refresh_token),
        id_token=token.get("id_token") or (previous and previous.id_token),
        changed=True,
    )


def current_login():
    """The Login of this browser session, or None."""
    return getattr(session, "login", None)


def _token_session_for(client_key):
    client_id, client_secret = client_key
    return OAuth2Session(client_id, client_secret, default_timeout=REFRESH_TIMEOUT)


# Authlib's Flask client makes a session per token request, so a TCP connection to identity for
# every refresh (each user's every few minutes); these keep their connection open while identity
# does (HTTP keep-alive), as the calls to the services do (backends.http_session).
_token_sessions = PerThread(_token_session_for)


def token_session():
    """This thread's session for identity's token endpoint, authenticated as the portal."""
    registered = client()
    return _token_sessions.get((registered.client_id, registered.client_secret))


def _fetch_refreshed(refresh_token):
    token_endpoint = client().load_server_metadata()["token_endpoint"]
    oauth = token_session()
    try:
        return oauth.fetch_token(
            token_endpoint, grant_type="refresh_token", refresh_token=refresh_token
        )
    finally:
        oauth.token = None  # the session serves every user of its thread: it keeps no tokens


def _refreshed(login):
    """The Login identity's refresh of `login` gives (LoginRequired / IdentityUnreachable)."""
    if not login.refresh_token:
        raise LoginRequired
    try:
        token = _fetch_refreshed(login.refresh_token)
        return login_from_token(token, previous=login)
    except requests.RequestException as exc:
        log.warning("token refresh failed", extra={"error": type(exc).__name__})
        raise IdentityUnreachable from exc
    except (OAuthError, kit_auth.InvalidToken, KeyError) as exc:
        log.info("token refresh refused", extra={"error": type(exc).__name__})
        raise LoginRequired from exc


def _refresh(login):
    """Refresh the session's tokens, one request of the browser at a time (sessions.refreshing):
    a request that waited uses the tokens the one before it stored."""
    if session.key is None:  # not stored yet: no other request can hold it
        refreshed = _refreshed(login)
    else:
        with sessions.refreshing(current_app, session.key) as (stored, store):
            if stored is None:
                raise LoginRequired  # ended meanwhile (a back-channel logout)
            if stored.refresh_token != login.refresh_token:
                refreshed = stored  # refreshed by another request meanwhile
            else:
                # Identity rotates refresh tokens: the new one replaces the old, used one.
                refreshed = _refreshed(stored)
                store(refreshed)
                refreshed.changed = False  # stored already
    session.login = refreshed
    return refreshed


def access_token(force_refresh=False):
    """A live access token for the logged-in user, refreshed when it is about to expire."""
    login = current_login()
    if login is None:
        raise LoginRequired
    if force_refresh or login.access_expires_at - REFRESH_MARGIN <= utcnow():
        login = _refresh(login)
    return login.access_token


def init_app(app):
    """Register identity as the portal's OpenID provider (discovery from OIDC_ISSUER)."""
    oauth = OAuth(app)
    issuer = app.config["OIDC_ISSUER"].rstrip("/")
    oauth.register(
        "identity",
        client_id=app.config["PORTAL_OIDC_CLIENT_ID"],
        client_secret=app.config["PORTAL_OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": SCOPES,
            "code_challenge_method": "S256",
            "timeout": TOKEN_TIMEOUT,
        },
    )
    app.extensions[EXTENSION] = oauth
