"""Signing in: password, TOTP code, lockout after repeated failures, throttling per address.

Every failure looks the same from outside (one message, one status, about the same time), so an
attacker learns neither whether a username exists nor whether an account is locked.
"""

import datetime as dt
import re
import time

import sqlalchemy as sa
from flask import current_app
from prometheus_client import Counter
from servicekit import audit, db
from servicekit.events import emit
from servicekit.models import utcnow

from identity import passwords, totp
from identity.models import LoginAttempt, TotpDevice, User

USERNAME_MAX = 64
USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{1,64}")

LOGINS = Counter(
    "enrs_identity_logins_total", "Sign-in attempts at identity, by outcome", ["outcome"]
)


class LoginFailed(Exception):
    """The sign-in is refused; `reason` is for the audit log only, never for the user."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class Throttled(Exception):
    """Too many failures from this client address: refuse before checking anything."""


def _setting(name, default):
    return current_app.config.get(name, default)


def normalise_username(username):
    return (username or "").strip().lower()[:USERNAME_MAX]


def _recordable(username):
    # A name that cannot be a username may be a password typed in the wrong field: not kept.
    name = normalise_username(username)
    return name if USERNAME_PATTERN.fullmatch(name) else "(invalid)"


def find_user(db_session, username):
    """The user with this username (case-insensitive), or None."""
    return db_session.scalar(sa.select(User).where(User.username == normalise_username(username)))


def check_throttle(db_session, client_ip, now=None):
    """Raise Throttled when client_ip failed too often within the window.

    Returns how many of the address's attempts are older than the window (no longer counted).
    """
    recent = LoginAttempt.at > _window_start(now)
    failures, stale = db_session.execute(
        sa.select(
            sa.func.count().filter(recent),
            sa.func.count().filter(sa.not_(recent)),
        ).where(LoginAttempt.client_ip == client_ip)
    ).one()
    if failures >= _setting("LOGIN_IP_MAX_FAILURES", 50):
        raise Throttled(client_ip)
    return stale


def authenticate(db_session, username, password, code, client_ip):
    """The user these credentials sign in, or LoginFailed / Throttled (the caller commits)."""
    try:
        stale = check_throttle(db_session, client_ip)
    except Throttled:
        LOGINS.labels("throttled").inc()
        raise
    user = find_user(db_session, username)
    if stale:
        # Kept small as it goes, without a write on a sign-in from an address with no old ones.
        _forget_old_attempts_of(db_session, client_ip)
    try:
        _check_credentials(db_session, user, password, code)
    except LoginFailed as failure:
        _record_failure(db_session, user, username, client_ip, failure.reason)
        LOGINS.labels("failed").inc()
        raise
    _record_success(db_session, user, password)
    LOGINS.labels("ok").inc()
    return user


def _check_credentials(db_session, user, password, code):
    if user is None:
        passwords.verify_nothing(password)
        raise LoginFailed("unknown-user")
    password_ok = passwords.verify_password(user.password_hash, password)
    # The password is checked before these refusals so that they take the same time.
    if user.disabled:
        raise LoginFailed("disabled")
    if user.is_locked():
        raise LoginFailed("locked")
    if not password_ok:
        raise LoginFailed("wrong-password")
    if not _code_accepted(db_session, user, code):
        raise LoginFailed("wrong-code")


def _code_accepted(db_session, user, code):
    devices = db_session.scalars(
        sa.select(TotpDevice).where(TotpDevice.user_id == user.id, TotpDevice.confirmed)
    ).all()
    return any(totp.use_code(device, code) for device in devices)


def lock_delay(failures):
    """How long the account stays locked after its `failures`-th consecutive failure."""
    threshold = _setting("LOCKOUT_THRESHOLD", 5)
    if failures < threshold:
        return None
    base = _setting("LOCKOUT_BASE_SECONDS", 60)
    longest = _setting("LOCKOUT_MAX_SECONDS", 3600)
    doublings = min(failures - threshold, 20)
    return dt.timedelta(seconds=min(base * 2**doublings, longest))


def _record_failure(db_session, user, username, client_ip, reason):
    db_session.add(LoginAttempt(client_ip=client_ip))
    shown_name = _recordable(username)
    if user is not None and reason in ("wrong-password", "wrong-code"):
        _count_failure(db_session, user)
    audit.record(
        db_session,
        actor=str(user.id) if user else "anonymous",
        action="identity.login",
        purpose="authentication",
        outcome="failed",
        target=f"user:{user.id}" if user else None,
        details={"reason": reason, "username": shown_name},
    )
    emit(
        db_session,
        "fr.enrs.identity.user.login-failed",
        subject=str(user.id) if user else None,
        data={"username": shown_name, "reason": reason},
    )


def _count_failure(db_session, user):
    user.failed_logins += 1
    delay = lock_delay(user.failed_logins)
    if delay is None:
        return
    user.locked_until = utcnow() + delay
    audit.record(
        db_session,
        actor="system",
        action="identity.user.locked",
        purpose="authentication",
        target=f"user:{user.id}",
        details={"failed_logins": user.failed_logins, "until": user.locked_until.isoformat()},
    )
    emit(
        db_session,
        "fr.enrs.identity.user.locked",
        subject=str(user.id),
        data={
            "user_id": str(user.id),
            "username": user.username,
            "until": user.locked_until.isoformat(),
        },
    )


def _record_success(db_session, user, password):
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.rehash(password)


def record_login(db_session, user, login_session):
    """Audit and announce a successful sign-in, once its session exists."""
    audit.record(
        db_session,
        actor=str(user.id),
        action="identity.login",
        purpose="authentication",
        target=f"user:{user.id}",
        details={"session_id": login_session.id, "acr": login_session.acr},
    )
    emit(
        db_session,
        "fr.enrs.identity.user.logged-in",
        subject=str(user.id),
        data={
            "user_id": str(user.id),
            "username": user.username,
            "session_id": login_session.id,
            "acr": login_session.acr,
        },
    )


def _window_start(now=None):
    return (now or utcnow()) - dt.timedelta(seconds=_setting("LOGIN_IP_WINDOW_SECONDS", 900))


def _forget_old_attempts_of(db_session, client_ip):
    # Kept small as it goes: an address's attempts older than the window no longer count.
    db_session.execute(
        sa.delete(LoginAttempt).where(
            LoginAttempt.client_ip == client_ip, LoginAttempt.at <= _window_start()
        )
    )


def forget_old_attempts(db_session, now=None):
    """Delete every failed attempt older than the throttling window (housekeeping); how many."""
    result = db_session.execute(
        sa.delete(LoginAttempt).where(LoginAttempt.at <= _window_start(now))
    )
    return result.rowcount


FORGET_EVERY = 3600.0
_LAST_FORGOTTEN = "identity.attempts_forgotten_at"


def forget_old_attempts_job(app, clock=time.monotonic):
    """Worker job: forget_old_attempts at most once an hour; how many attempts were deleted."""
    now = clock()
    last = app.extensions.get(_LAST_FORGOTTEN)
    if last is not None and now - last < FORGET_EVERY:
        return 0
    with app.app_context(), db.sessions(app) as db_session:
        deleted = forget_old_attempts(db_session)
    app.extensions[_LAST_FORGOTTEN] = now
    return deleted
