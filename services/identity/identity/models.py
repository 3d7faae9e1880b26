"""identity's tables: accounts, their second factors, browser sessions and login attempts."""

import datetime as dt
import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so
from servicekit.models import UTCDateTime, created, intpk, naming_metadata, utcnow, uuidpk

ROLES = (
    "platform-admin",
    "clinician",
    "stroke-requester",
    "stroke-neurologist",
    "rcp-member",
    "rcp-coordinator",
)


class Base(so.DeclarativeBase):
    metadata = naming_metadata()


class User(Base):
    """An account: a health professional or a member of the regional GCS staff."""

    __tablename__ = "users"

    id: so.Mapped[uuidpk]
    # Stored lowercased, so uniqueness is case-insensitive on every backend.
    username: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    given_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    family_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    rpps: so.Mapped[str | None] = so.mapped_column(sa.String(11), unique=True)
    roles: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    disabled: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[created]
    last_login_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    failed_logins: so.Mapped[int] = so.mapped_column(default=0)
    locked_until: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)

    totp_devices: so.WriteOnlyMapped["TotpDevice"] = so.relationship(
        back_populates="user", passive_deletes=True
    )

    @property
    def display_name(self):
        return f"{self.given_name} {self.family_name}"

    def is_locked(self, now=None):
        return self.locked_until is not None and self.locked_until > (now or utcnow())


class LoginSession(Base):
    """A browser's signed-in session at identity (the `sid` of the tokens issued in it)."""

    __tablename__ = "login_sessions"

    # A random URL-safe string (secrets.token_urlsafe(32)): the cookie value itself.
    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    user_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: so.Mapped[created]
    last_seen_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    ended_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    end_reason: so.Mapped[str | None] = so.mapped_column(sa.String(50))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    acr: so.Mapped[str] = so.mapped_column(sa.String(50), default="mfa")

    user: so.Mapped[User] = so.relationship(lazy="joined")

    def is_active(self, now=None):
        return self.ended_at is None and self.expires_at > (now or utcnow())


class TotpDevice(Base):
    """A TOTP authenticator of a user; its secret is encrypted with a key from SECRET_KEY."""

    __tablename__ = "totp_devices"

    id: so.Mapped[uuidpk]
    user_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label: so.Mapped[str] = so.mapped_column(sa.String(100))
    secret_encrypted: so.Mapped[str] = so.mapped_column(sa.String(500))
    confirmed: so.Mapped[bool] = so.mapped_column(default=False)
    created_at: so.Mapped[created]
    # The last 30-second step a code was accepted for: an older or equal step is a replay.
    last_used_step: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)

    user: so.Mapped[User] = so.relationship(back_populates="totp_devices")


class LoginAttempt(Base):
    """A failed sign-in from a client address, kept for a while to throttle that address."""

    __tablename__ = "login_attempts"

    id: so.Mapped[intpk]
    at: so.Mapped[created]
    client_ip: so.Mapped[str] = so.mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_login_attempts_client_ip_at", "client_ip", "at"),)
