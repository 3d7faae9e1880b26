"""Server-side sessions: the cookie `enrs_portal` holds a random key, the database the rest.

Only the SHA-256 of the key is stored, tokens are encrypted at rest, and a row deleted by a
back-channel logout ends the browser's session on its next request.
"""

import base64
import contextlib
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask.sessions import SessionInterface, SessionMixin
from servicekit import db
from servicekit.models import utcnow
from werkzeug.datastructures import CallbackDict

from portal.models import PortalSession

COOKIE_NAME = "enrs_portal"
# A session's row is rewritten at most this often when nothing in it changes (static files...).
TOUCH_INTERVAL = dt.timedelta(seconds=60)


@dataclass
class Login:
    """Who is logged in on this session, and the tokens identity gave the portal for them."""

    user: dict[str, Any]
    sub: str
    sid: str | None
    access_token: str
    access_expires_at: dt.datetime
    refresh_token: str | None = None
    id_token: str | None = None
    changed: bool = field(default=False, compare=False)


class ServerSession(CallbackDict, SessionMixin):
    """The Flask session of one browser, backed by a portal_sessions row."""

    def __init__(self, initial=None, key=None, login=None, seen_at=None):
        def on_update(this):
            this.modified = True

        super().__init__(initial, on_update)
        self.key = key
        self.login = login
        self.seen_at = seen_at
        self.modified = False
        self.regenerate = False
        self.ended = False

    def begin(self, login):
        """Log a user in: a fresh key (no session fixation) and nothing kept from before."""
        self.clear()
        self.login = login
        self.regenerate = True

    def end(self):
        """Forget this session: its row is deleted and its cookie cleared."""
        self.clear()
        self.login = None
        self.ended = True


def hash_key(key):
    return hashlib.sha256(key.encode()).hexdigest()


def token_cipher(secret_key):
    """The Fernet cipher for tokens at rest, its key derived from SECRET_KEY with HKDF."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"enrs-portal-tokens")
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret_key.encode())))


def _encrypt(cipher, value):
    return cipher.encrypt(value.encode()).decode() if value else None


def _decrypt(cipher, value):
    if not value:
        return None
    try:
        return cipher.decrypt(value.encode()).decode()
    except InvalidToken:
        # SECRET_KEY changed: the stored token is unreadable, so the user logs in again.
        return None


def _login_from_row(row, cipher):
    access_token = _decrypt(cipher, row.access_token)
    if row.user is None or access_token is None:
        return None
    return Login(
        user=row.user,
        sub=row.sub,
        sid=row.sid,
        access_token=access_token,
        access_expires_at=row.access_expires_at,
        refresh_token=_decrypt(cipher, row.refresh_token),
        id_token=_decrypt(cipher, row.id_token),
    )


def write_login(row, login, cipher):
    row.user = login.user if login else None
    row.sub = login.sub if login else None
    row.sid = login.sid if login else None
    row.access_token = _encrypt(cipher, login.access_token) if login else None
    row.refresh_token = _encrypt(cipher, login.refresh_token) if login else None
    row.id_token = _encrypt(cipher, login.id_token) if login else None
    row.access_expires_at = login.access_expires_at if login else None


def end_sessions_of(session, sid=None, sub=None):
    """Delete every portal session of an identity session (sid) or of a user (sub)."""
    column, value = (PortalSession.sid, sid) if sid else (PortalSession.sub, sub)
    result = session.execute(sa.delete(PortalSession).where(column == value))
    return result.rowcount


def purge_expired(session):
    """Delete the sessions whose time is up."""
    session.execute(sa.delete(PortalSession).where(PortalSession.expires_at <= utcnow()))


@contextlib.contextmanager
def refreshing(app, key):
    """The Login stored now for the browser session `key` (None once the session has ended),
    and a function that stores another one; the session's row stays locked meanwhile.

    Identity's refresh tokens are good once. Two requests of one browser refreshing at the same
    moment (a page and its searches as the user types, two tabs, two web workers) would both
    present the same one, and identity takes the second for a stolen token's reuse and ends the
    login. Locked, the second waits for the first and finds the tokens it stored.
    """
    cipher = app.extensions["portal.token_cipher"]
    with db.sessions(app) as dbs:
        # The UPDATE takes the lock: the row's on PostgreSQL, the database's write lock on
        # SQLite (a SELECT ... FOR UPDATE would lock nothing there); both until the commit.
        touched = dbs.execute(
            sa.update(PortalSession)
            .where(PortalSession.key_hash == hash_key(key))
            .values(last_seen_at=utcnow())
        )
        row = dbs.get(PortalSession, hash_key(key)) if touched.rowcount else None
        if row is None:
            yield None, None
            return
        yield _login_from_row(row, cipher), lambda login: write_login(row, login, cipher)


class DatabaseSessionInterface(SessionInterface):
    """Flask sessions kept in portal_sessions, with idle and absolute time limits."""

    def open_session(self, app, request):
        key = request.cookies.get(self.get_cookie_name(app))
        if not key or len(key) > 100:
            return ServerSession()
        with db.sessions(app) as session:
            row = session.get(PortalSession, hash_key(key))
            if row is None or not self._alive(app, row):
                return ServerSession()
            login = _login_from_row(row, self._cipher(app))
            return ServerSession(row.data, key=key, login=login, seen_at=row.last_seen_at)

    def save_session(self, app, session, response):
        if session.ended:
            self._delete(app, session.key)
            self._clear_cookie(app, response)
            return
        if session.key is None and not session and session.login is None:
            return  # an anonymous visitor with nothing to remember: no row, no cookie
        if session.regenerate or session.key is None:
            self._delete(app, session.key)
            session.key = secrets.token_urlsafe(32)
            self._insert(app, session)
        elif not self._needs_update(session):
            return
        elif not self._update(app, session):
            self._clear_cookie(app, response)  # ended meanwhile by a back-channel logout
            return
        self._set_cookie(app, session, response)

    @staticmethod
    def _alive(app, row):
        now = utcnow()
        max_age = dt.timedelta(seconds=app.config["PORTAL_SESSION_MAX_SECONDS"])
        return row.expires_at > now and row.created_at + max_age > now

    @staticmethod
    def _cipher(app):
        return app.extensions["portal.token_cipher"]

    @staticmethod
    def _needs_update(session):
        """Changed, or last seen long enough ago that the idle deadline should move."""
        changed = session.modified or (session.login is not None and session.login.changed)
        if changed or session.login is None or session.seen_at is None:
            return True
        return utcnow() - session.seen_at > TOUCH_INTERVAL

    def _expiry(self, app):
        return utcnow() + dt.timedelta(seconds=app.config["PORTAL_SESSION_IDLE_SECONDS"])

    def _insert(self, app, session):
        with db.sessions(app) as dbs:
            row = PortalSession(
                key_hash=hash_key(session.key), data=dict(session), expires_at=self._expiry(app)
            )
            write_login(row, session.login, self._cipher(app))
            dbs.add(row)

    def _update(self, app, session):
        with db.sessions(app) as dbs:
            row = dbs.get(PortalSession, hash_key(session.key))
            if row is None:
                return False
            row.data = dict(session)
            row.last_seen_at = utcnow()
            row.expires_at = self._expiry(app)
            if session.login is None or session.login.changed:
                write_login(row, session.login, self._cipher(app))
            return True

    @staticmethod
    def _delete(app, key):
        if key:
            with db.sessions(app) as dbs:
                dbs.execute(sa.delete(PortalSession).where(PortalSession.key_hash == hash_key(key)))

    def _set_cookie(self, app, session, response):
        response.set_cookie(
            self.get_cookie_name(app),
            session.key,
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
        )
        response.vary.add("Cookie")

    def _clear_cookie(self, app, response):
        response.delete_cookie(
            self.get_cookie_name(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
            secure=self.get_cookie_secure(app),
            httponly=True,
            samesite=self.get_cookie_samesite(app),
        )


def init_app(app):
    """Keep the app's sessions in its database under the cookie `enrs_portal`."""
    public_url = app.config.get("ENRS_PUBLIC_URL") or ""
    app.config["SESSION_COOKIE_NAME"] = COOKIE_NAME
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = public_url.startswith("https://")
    app.extensions["portal.token_cipher"] = token_cipher(app.config["SECRET_KEY"])
    app.session_interface = DatabaseSessionInterface()
