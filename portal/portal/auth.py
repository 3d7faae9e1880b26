"""/auth: login through identity, its callback, logout, and back-channel logout."""

import logging
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from joserfc.errors import JoseError
from prometheus_client import Counter
from servicekit import auth as kit_auth
from servicekit import db

from portal import logout_tokens, oidc
from portal.sessions import end_sessions_of, purge_expired

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

LOGINS = Counter("enrs_portal_logins_total", "Logins through identity", ["outcome"])
BACKCHANNEL_LOGOUTS = Counter(
    "enrs_portal_backchannel_logouts_total", "Back-channel logout calls from identity", ["outcome"]
)


def safe_next(target):
    """A local path to go back to after login; anything else (other sites, //host) becomes /."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


@bp.get("/login")
def login():
    """Send the browser to identity's login page (authorization code + PKCE S256)."""
    session["next"] = safe_next(request.args.get("next"))
    try:
        return oidc.client().authorize_redirect(oidc.public_url(url_for("auth.callback")))
    except (requests.RequestException, ValueError) as exc:
        # Identity's discovery document could not be read: nothing to log in with right now.
        log.warning("identity unreachable for login", extra={"error": type(exc).__name__})
        return render_template("error.html", status=503), 503


@bp.get("/callback")
def callback():
    """Identity sends the browser back here: code for tokens, ID token checked, session begun."""
    next_path = safe_next(session.get("next"))
    try:
        token = oidc.client().authorize_access_token()
        login = oidc.login_from_token(token)
    except (OAuthError, JoseError, kit_auth.InvalidToken, KeyError) as exc:
        log.info("login refused", extra={"error": type(exc).__name__})
        LOGINS.labels("refused").inc()
        return render_template("login_failed.html"), 400
    session.begin(login)
    with db.sessions() as dbs:
        purge_expired(dbs)
    log.info("portal session begun")
    LOGINS.labels("ok").inc()
    return redirect(next_path)


@bp.post("/logout")
def logout():
    """End the portal session, then the identity session (RP-initiated logout)."""
    login = oidc.current_login()
    session.end()
    if login is None:
        return redirect(url_for("views.home"))
    try:
        result = oidc.client().create_logout_url(
            post_logout_redirect_uri=oidc.public_url("/"), id_token_hint=login.id_token
        )
    except (RuntimeError, OSError) as exc:
        log.warning("identity logout unavailable", extra={"error": type(exc).__name__})
        return redirect(url_for("views.home"))
    return redirect(result["url"])


@bp.post("/backchannel-logout")
def backchannel_logout():
    """Identity ends a session: delete every portal session of that sid (or that user)."""
    token = request.form.get("logout_token", "")
    try:
        claims = logout_tokens.verify(token)
    except logout_tokens.InvalidLogoutToken as exc:
        log.info("logout token refused", extra={"reason": str(exc)})
        BACKCHANNEL_LOGOUTS.labels("refused").inc()
        return _backchannel_answer({"error": "invalid_request"}, 400)
    with db.sessions() as dbs:
        if not logout_tokens.first_use(dbs, claims):
            log.info("logout token refused", extra={"reason": "replayed"})
            BACKCHANNEL_LOGOUTS.labels("refused").inc()
            return _backchannel_answer({"error": "invalid_request"}, 400)
        ended = end_sessions_of(dbs, sid=claims.get("sid"), sub=claims.get("sub"))
    log.info("back-channel logout", extra={"sessions_ended": ended})
    BACKCHANNEL_LOGOUTS.labels("ok").inc()
    return _backchannel_answer({}, 200)


def _backchannel_answer(body, status):
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
