"""identity's JSON API under /api/v1: the signed-in user's own account, and account admin."""

import uuid
from typing import Annotated, Literal

import sqlalchemy as sa
from flask import Blueprint, g
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints
from servicekit import db
from servicekit.auth import require
from servicekit.errors import ServiceError
from servicekit.validation import CleanStr, Strict, json_body, query_args

from identity import passwords, service, sessions, totp
from identity.models import ROLES, LoginSession, TotpDevice, User

bp = Blueprint("identity_api", __name__, url_prefix="/api/v1")

ADMIN = ("platform-admin",)


def _lowercase(value):
    return value.strip().lower() if isinstance(value, str) else value


Username = Annotated[
    str,
    BeforeValidator(_lowercase),
    StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9._-]+$"),
]
Name = Annotated[CleanStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[
    CleanStr,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Rpps = Annotated[str, StringConstraints(pattern=r"^[0-9]{11}$")]
Role = Literal[ROLES]
Roles = Annotated[list[Role], Field(max_length=len(ROLES))]
# Passwords are taken as typed: no trimming, any character but control characters.
Password = Annotated[
    CleanStr, StringConstraints(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)
]


class NewUser(Strict):
    # Strict trims every string; here only the fields that say so are trimmed, not the password.
    model_config = ConfigDict(str_strip_whitespace=False)

    username: Username
    given_name: Name
    family_name: Name
    email: Email | None = None
    rpps: Rpps | None = None
    roles: Roles
    password: Password


class RolesUpdate(Strict):
    roles: Roles


class NewDevice(Strict):
    label: Annotated[CleanStr, StringConstraints(min_length=1, max_length=100)]


class DeviceCode(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class UserQuery(Strict):
    q: Annotated[CleanStr, StringConstraints(max_length=100)] | None = None
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    limit: Annotated[int, Field(ge=1, le=100)] = 50


def _iso(value):
    return value.isoformat() if value else None


def user_json(db_session, user):
    """The USER shape of the contract."""
    return {
        "id": str(user.id),
        "username": user.username,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "email": user.email,
        "rpps": user.rpps,
        "roles": list(user.roles),
        "disabled": user.disabled,
        "mfa_enabled": service.mfa_enabled(db_session, user),
        "created_at": _iso(user.created_at),
        "last_login_at": _iso(user.last_login_at),
    }


def _session_json(login_session, current_sid):
    return {
        "id": login_session.id,
        "created_at": _iso(login_session.created_at),
        "last_seen_at": _iso(login_session.last_seen_at),
        "expires_at": _iso(login_session.expires_at),
        "user_agent": login_session.user_agent,
        "current": login_session.id == current_sid,
    }


def _device_json(device):
    return {
        "id": str(device.id),
        "label": device.label,
        "created_at": _iso(device.created_at),
        "confirmed": device.confirmed,
    }


def _as_uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _me(db_session):
    user_id = _as_uuid(g.claims.get("sub"))
    user = db_session.get(User, user_id) if user_id else None
    if user is None or user.disabled:
        raise ServiceError("No active account matches this token.", 404)
    return user


def _me_in_open_session(db_session):
    """The caller, whose token must come from a sign-in session still open (MFA changes)."""
    user = _me(db_session)
    login_session = db_session.get(LoginSession, str(g.claims.get("sid", ""))[:64])
    if login_session is None or login_session.user_id != user.id or not login_session.is_active():
        raise ServiceError("This token's sign-in session has ended; sign in again.", 401)
    return user


def _user_or_404(db_session, user_id):
    user = db_session.get(User, _as_uuid(user_id)) if _as_uuid(user_id) else None
    if user is None:
        raise ServiceError("No such account.", 404)
    return user


def _actor():
    return str(g.claims["sub"])


def _account_error(exc):
    status = 409 if exc.kind == "conflict" else 422
    return ServiceError(str(exc), status)


@bp.get("/me")
@require()
def me():
    """The caller's account, active sessions and second-factor devices."""
    db_session = db.session()
    user = _me(db_session)
    sid = g.claims.get("sid")
    devices = service.mfa_devices(db_session, user)
    return {
        "user": user_json(db_session, user),
        "sessions": [_session_json(s, sid) for s in sessions.active_sessions(db_session, user)],
        "mfa": {
            "enabled": any(device.confirmed for device in devices),
            "devices": [_device_json(device) for device in devices],
        },
    }


@bp.delete("/me/sessions/<session_id>")
@require()
def end_my_session(session_id):
    """End one of the caller's sessions (and its tokens, with back-channel logout)."""
    db_session = db.session()
    user = _me(db_session)
    login_session = db_session.get(LoginSession, session_id[:64])
    if login_session is None or login_session.user_id != user.id:
        raise ServiceError("No such session.", 404)
    sessions.end_login_session(db_session, login_session, "ended-by-user", actor=str(user.id))
    db_session.commit()
    return "", 204


@bp.post("/me/totp")
@require()
def add_my_device():
    """Start enrolling a TOTP device: its secret, URI and QR code (pending until confirmed)."""
    body = json_body(NewDevice)
    db_session = db.session()
    user = _me_in_open_session(db_session)
    device = service.add_pending_device(db_session, user, body.label)
    uri = totp.provisioning_uri(device, user)
    db_session.commit()
    return {
        "device_id": str(device.id),
        "secret": totp.secret_of(device),
        "provisioning_uri": uri,
        "qr_svg": totp.qr_svg(uri),
    }, 201


@bp.post("/me/totp/<device_id>/confirm")
@require()
def confirm_my_device(device_id):
    """Confirm a pending TOTP device with a code it shows."""
    body = json_body(DeviceCode)
    db_session = db.session()
    user = _me_in_open_session(db_session)
    device = db_session.get(TotpDevice, _as_uuid(device_id)) if _as_uuid(device_id) else None
    if device is None or device.user_id != user.id:
        raise ServiceError("No such device.", 404)
    try:
        service.confirm_device(db_session, user, device, body.code)
    except service.AccountError as exc:
        raise _account_error(exc) from None
    db_session.commit()
    return _device_json(device)


@bp.get("/users")
@require(roles=ADMIN)
def list_users():
    """Accounts matching q, a page at a time."""
    query = query_args(UserQuery)
    db_session = db.session()
    users, total = service.search_users(db_session, query.q, query.offset, query.limit)
    return {"items": [user_json(db_session, user) for user in users], "total": total}


@bp.post("/users")
@require(roles=ADMIN)
def create_user():
    """Create an account; the answer carries its TOTP provisioning URI, shown once."""
    body = json_body(NewUser)
    db_session = db.session()
    try:
        user, uri = service.create_user(db_session, _actor(), **body.model_dump())
        db_session.commit()
    except service.AccountError as exc:
        db_session.rollback()
        raise _account_error(exc) from None
    except sa.exc.IntegrityError:
        db_session.rollback()
        raise ServiceError("An account with this username or RPPS already exists.", 409) from None
    return {"user": user_json(db_session, user), "totp_provisioning_uri": uri}, 201


@bp.get("/users/<user_id>")
@require(roles=ADMIN)
def get_user(user_id):
    """One account."""
    db_session = db.session()
    return user_json(db_session, _user_or_404(db_session, user_id))


def _admin_change(user_id, change, *args):
    db_session = db.session()
    user = _user_or_404(db_session, user_id)
    try:
        result = change(db_session, _actor(), user, *args)
    except service.AccountError as exc:
        db_session.rollback()
        raise _account_error(exc) from None
    db_session.commit()
    return db_session, user, result


@bp.post("/users/<user_id>/disable")
@require(roles=ADMIN)
def disable_user(user_id):
    """Disable an account: its sessions end and its tokens are revoked."""
    db_session, user, _ = _admin_change(user_id, service.disable_user)
    return user_json(db_session, user)


@bp.post("/users/<user_id>/enable")
@require(roles=ADMIN)
def enable_user(user_id):
    """Enable a disabled account."""
    db_session, user, _ = _admin_change(user_id, service.enable_user)
    return user_json(db_session, user)


@bp.put("/users/<user_id>/roles")
@require(roles=ADMIN)
def set_user_roles(user_id):
    """Replace an account's roles."""
    body = json_body(RolesUpdate)
    db_session, user, _ = _admin_change(user_id, service.set_roles, body.roles)
    return user_json(db_session, user)


@bp.post("/users/<user_id>/mfa/reset")
@require(roles=ADMIN)
def reset_user_mfa(user_id):
    """Replace an account's TOTP devices with a new one; its URI is in the answer."""
    db_session, user, uri = _admin_change(user_id, service.reset_mfa)
    return {"user": user_json(db_session, user), "totp_provisioning_uri": uri}
