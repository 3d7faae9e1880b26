"""The portal's tables: server-side sessions, so that back-channel logout can end them."""

import datetime as dt
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from servicekit.models import UTCDateTime, created, naming_metadata, utcnow


class Base(so.DeclarativeBase):
    metadata = naming_metadata()


class PortalSession(Base):
    """One browser session; the cookie holds a random key, the table only its SHA-256."""

    __tablename__ = "portal_sessions"

    key_hash: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    sub: so.Mapped[str | None] = so.mapped_column(sa.String(200), index=True)
    sid: so.Mapped[str | None] = so.mapped_column(sa.String(200), index=True)
    user: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)
    # Tokens are Fernet-encrypted with a key derived from SECRET_KEY.
    access_token: so.Mapped[str | None] = so.mapped_column(sa.Text)
    refresh_token: so.Mapped[str | None] = so.mapped_column(sa.Text)
    id_token: so.Mapped[str | None] = so.mapped_column(sa.Text)
    access_expires_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[created]
    last_seen_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, index=True)


class LogoutTokenUse(Base):
    """A back-channel logout token already honoured (its `jti`), kept until it expires: the same
    token sent again is refused, so it cannot end the sessions of a later login."""

    __tablename__ = "logout_token_uses"

    jti: so.Mapped[str] = so.mapped_column(sa.String(200), primary_key=True)
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, index=True)
