"""Browser sessions at identity: the `enrs_idp` cookie, idle and absolute expiry, ending them.

The cookie is Flask's signed session cookie (named `enrs_idp` in create_app). It carries the
LoginSession id under a signature made with SECRET_KEY: the id is also the `sid` claim of every
token issued in the session, so knowing a sid must not be enough to present the session.
"""

import datetime as dt
import importlib.util
import logging
import secrets

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, session
from servicekit import audit
from servicekit.events import emit
from servicekit.models import utcnow

from identity.models import LoginSession

log = logging.getLogger(__name__)

SESSION_KEY = "login_session"
USER_AGENT_MAX = 300


def _idle_limit():
    return dt.timedelta(seconds=current_app.config.get("SESSION_IDLE_SECONDS", 30 * 60))


MAX_LIFETIME = dt.timedelta(hours=12)


def _max_lifetime():
    # The setting may shorten a session, never stretch it past twelve hours.
    configured = dt.timedelta(seconds=current_app.config.get("SESSION_MAX_SECONDS", 12 * 3600))
    return min(configured, MAX_LIFETIME)


# Touching last_seen_at on every request would write on every page; a minute is precise enough.
TOUCH_EVERY = dt.timedelta(seconds=60)


def current_login(db_session):
    """The browser's active LoginSession (touched; the caller commits), or None."""
    if "login_session" in g:
        return g.login_session
    g.login_session = _load_current(db_session)
    return g.login_session


def _load_current(db_session):
    session_id = session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        return None
    login_session = db_session.get(LoginSession, session_id)
    if login_session is None or login_session.ended_at is not None:
        session.pop(SESSION_KEY, None)
        return None
    now = utcnow()
    reason = _expiry_reason(login_session, now)
    if reason:
        end_login_session(db_session, login_session, reason)
        return None
    if now - login_session.last_seen_at >= TOUCH_EVERY:
        login_session.last_seen_at = now
    return login_session


def _expiry_reason(login_session, now):
    if login_session.user.disabled:
        return "disabled"
    if now >= login_session.expires_at:
        return "expired"
    if now - login_session.last_seen_at >= _idle_limit():
        return "idle"
    return None


def start_login(db_session, user, acr="mfa"):
    """Open a LoginSession for user and put it in the browser's cookie (the caller commits)."""
    now = utcnow()
    login_session = LoginSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        user=user,
        created_at=now,
        last_seen_at=now,
        expires_at=now + _max_lifetime(),
        user_agent=_user_agent(),
        acr=acr,
    )
    db_session.add(login_session)
    if not has_request_context():
        return login_session
    # A fresh cookie on every sign-in: nothing from before the login (CSRF token...) carries over.
    session.clear()
    session[SESSION_KEY] = login_session.id
    g.login_session = login_session
    return login_session


def _user_agent():
    value = request.headers.get("User-Agent", "") if has_request_context() else ""
    return value[:USER_AGENT_MAX] or None


def end_login_session(db_session, login_session, reason, actor=None):
    """End one LoginSession: audit, event, token revocation and back-channel logout."""
    if login_session.ended_at is not None:
        return
    login_session.ended_at = utcnow()
    login_session.end_reason = reason
    user = login_session.user
    audit.record(
        db_session,
        actor=actor or str(user.id),
        action="identity.session.ended",
        purpose="administration",
        target=f"user:{user.id}",
        details={"reason": reason, "session_id": login_session.id},
    )
    emit(
        db_session,
        "fr.enrs.identity.user.logged-out",
        subject=str(user.id),
        data={
            "user_id": str(user.id),
            "username": user.username,
            "session_id": login_session.id,
        },
    )
    _forget_in_browser(login_session)
    hook = oauth_hook("session_ended")
    if hook is not None:
        hook(db_session, login_session)


def _forget_in_browser(login_session):
    if has_request_context() and session.get(SESSION_KEY) == login_session.id:
        session.pop(SESSION_KEY, None)
        g.login_session = None


def end_all_sessions(db_session, user, reason, actor=None):
    """End every active LoginSession of user; returns how many were ended."""
    active = db_session.scalars(
        sa.select(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.ended_at.is_(None)
        )
    ).all()
    for login_session in active:
        end_login_session(db_session, login_session, reason, actor=actor)
    return len(active)


def active_sessions(db_session, user):
    """The user's sessions not ended nor past their absolute expiry, newest first."""
    return db_session.scalars(
        sa.select(LoginSession)
        .where(
            LoginSession.user_id == user.id,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > utcnow(),
        )
        .order_by(LoginSession.created_at.desc())
    ).all()


def oauth_hook(name):
    """identity.oauth's function `name` when that package provides it, else None.

    The OpenID Connect provider lives in identity.oauth; accounts work without it (tests, and
    while it is being built), so its hooks are looked up at call time.
    """
    if importlib.util.find_spec("identity.oauth") is None:
        return None
    from identity import oauth

    return getattr(oauth, name, None)
