"""Account administration: create, disable, enable, change roles, reset the second factor.

Functions take the session first, never commit, and write the audit entry and the event in the
caller's transaction, so a change and its record land together or not at all.
"""

import sqlalchemy as sa
from servicekit import audit
from servicekit.events import emit
from servicekit.models import utcnow

from identity import passwords, sessions, totp
from identity.models import TotpDevice, User

DEFAULT_DEVICE_LABEL = "Application d'authentification"


class AccountError(Exception):
    """An account change that breaks a rule; `kind` is "conflict" or "rule"."""

    def __init__(self, message, kind="rule"):
        super().__init__(message)
        self.kind = kind


def _user_data(user, **extra):
    return {"user_id": str(user.id), "username": user.username, **extra}


def _record(db_session, actor, action, user, event_type, event_data=None, details=None):
    audit.record(
        db_session,
        actor=actor,
        action=action,
        purpose="administration",
        target=f"user:{user.id}",
        details=details,
    )
    emit(db_session, event_type, subject=str(user.id), data=_user_data(user, **(event_data or {})))


def create_user(
    db_session,
    actor,
    *,
    username,
    given_name,
    family_name,
    password,
    roles,
    email=None,
    rpps=None,
    totp_secret=None,
):
    """A new account with a confirmed TOTP device; returns (user, provisioning URI)."""
    username = username.strip().lower()
    _refuse_duplicates(db_session, username, rpps)
    user = User(
        username=username,
        given_name=given_name,
        family_name=family_name,
        email=email,
        rpps=rpps,
        roles=sorted(set(roles)),
        password_hash=passwords.hash_password(password),
        created_at=utcnow(),
    )
    db_session.add(user)
    db_session.flush()
    uri = _provision_device(db_session, user, totp_secret)
    _record(
        db_session,
        actor,
        "identity.user.create",
        user,
        "fr.enrs.identity.user.created",
        {"roles": user.roles, "rpps": user.rpps, "by": actor},
    )
    return user, uri


def _refuse_duplicates(db_session, username, rpps):
    if db_session.scalar(sa.select(User.id).where(User.username == username)):
        raise AccountError("An account with this username already exists.", "conflict")
    if rpps and db_session.scalar(sa.select(User.id).where(User.rpps == rpps)):
        raise AccountError("An account with this RPPS number already exists.", "conflict")


def _provision_device(db_session, user, secret=None):
    # The administrator hands the URI over out of band: the device is usable at once.
    device = totp.new_device(user, DEFAULT_DEVICE_LABEL, secret=secret, confirmed=True)
    db_session.add(device)
    return totp.provisioning_uri(device, user)


def disable_user(db_session, actor, user):
    """Disable the account, end its sessions and revoke its tokens at once."""
    if str(user.id) == actor:
        raise AccountError("You cannot disable your own account.")
    if user.disabled:
        return user
    user.disabled = True
    sessions.end_all_sessions(db_session, user, "disabled", actor=actor)
    hook = sessions.oauth_hook("user_disabled")
    if hook is not None:
        hook(db_session, user)
    _record(
        db_session,
        actor,
        "identity.user.disable",
        user,
        "fr.enrs.identity.user.disabled",
        {"by": actor},
    )
    return user


def enable_user(db_session, actor, user):
    """Enable a disabled account again, with a clean failure count."""
    if not user.disabled:
        return user
    user.disabled = False
    user.failed_logins = 0
    user.locked_until = None
    _record(
        db_session,
        actor,
        "identity.user.enable",
        user,
        "fr.enrs.identity.user.enabled",
        {"by": actor},
    )
    return user


def set_roles(db_session, actor, user, roles):
    """Replace the account's roles (they reach tokens issued from now on)."""
    new_roles = sorted(set(roles))
    if str(user.id) == actor and "platform-admin" not in new_roles:
        raise AccountError("You cannot remove your own platform-admin role.")
    previous = list(user.roles)
    if new_roles == sorted(previous):
        return user
    user.roles = new_roles
    _record(
        db_session,
        actor,
        "identity.user.roles",
        user,
        "fr.enrs.identity.user.roles-changed",
        {"roles": new_roles, "previous_roles": previous, "by": actor},
        details={"roles": new_roles, "previous_roles": previous},
    )
    return user


def reset_mfa(db_session, actor, user):
    """Replace every TOTP device of the account with a new one; returns its provisioning URI."""
    db_session.execute(sa.delete(TotpDevice).where(TotpDevice.user_id == user.id))
    uri = _provision_device(db_session, user)
    _record(
        db_session,
        actor,
        "identity.user.mfa-reset",
        user,
        "fr.enrs.identity.user.mfa-reset",
        {"by": actor},
    )
    return uri


def mfa_devices(db_session, user):
    """The user's TOTP devices, oldest first."""
    return db_session.scalars(
        sa.select(TotpDevice).where(TotpDevice.user_id == user.id).order_by(TotpDevice.created_at)
    ).all()


def mfa_enabled(db_session, user):
    return any(device.confirmed for device in mfa_devices(db_session, user))


def search_users(db_session, q=None, offset=0, limit=50):
    """(users matching q in username, names or email, ordered by username; total count)."""
    query = sa.select(User)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        query = query.where(
            sa.or_(
                *(
                    sa.func.lower(column).like(pattern, escape="\\")
                    for column in (User.username, User.given_name, User.family_name, User.email)
                )
            )
        )
    total = db_session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    users = db_session.scalars(query.order_by(User.username).offset(offset).limit(limit)).all()
    return users, total


def _escape_like(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def add_pending_device(db_session, user, label):
    """A new TOTP device the user must confirm with a code before it counts."""
    device = totp.new_device(user, label)
    db_session.add(device)
    db_session.flush()
    return device


def confirm_device(db_session, user, device, code):
    """Confirm a pending device with a current code from it."""
    if device.confirmed:
        raise AccountError("This device is already confirmed.", "conflict")
    if not totp.use_code(device, code):
        raise AccountError("The code is not valid for this device.")
    device.confirmed = True
    audit.record(
        db_session,
        actor=str(user.id),
        action="identity.mfa.confirm",
        purpose="authentication",
        target=f"user:{user.id}",
        details={"device_id": str(device.id)},
    )
    return device
