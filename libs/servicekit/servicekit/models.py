"""Tables every service has, kept on a metadata of their own that each service's migrations include.

outbox: events written in the same transaction as the change they describe.
processed_events: the consumer's idempotency record, keyed by (consumer, event id).
audit_log: the append-only record of every access to patient data and every admin action.
"""

import datetime as dt
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from servicekit.ids import uuid7


def utcnow():
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite gives back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# An event's id (a UUID's text): on PostgreSQL its comparisons are byte by byte (collation "C"),
# where the database's collation would compare two ids as language text through the C
# library's strcoll, at each entry of the unique index an event is written into.
EventIdText = sa.String(36).with_variant(sa.String(36, collation="C"), "postgresql")
intpk = Annotated[int, so.mapped_column(BigIntId, primary_key=True, autoincrement=True)]
uuidpk = Annotated[uuid.UUID, so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)]
created = Annotated[dt.datetime, so.mapped_column(UTCDateTime, default=utcnow)]
when = Annotated[dt.datetime, so.mapped_column(UTCDateTime)]
json_dict = Annotated[dict[str, Any], so.mapped_column(sa.JSON, default=dict)]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def naming_metadata():
    """A MetaData with named constraints, for every service's DeclarativeBase."""
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


class KitBase(so.DeclarativeBase):
    """The kit tables' metadata, included in every service's migrations."""

    metadata = naming_metadata()


class OutboxEvent(KitBase):
    """An event waiting for (or already given to) the broker."""

    __tablename__ = "outbox"

    id: so.Mapped[intpk]
    event_id: so.Mapped[str] = so.mapped_column(EventIdText, unique=True)
    topic: so.Mapped[str] = so.mapped_column(sa.String(200))
    type: so.Mapped[str] = so.mapped_column(sa.String(200))
    source: so.Mapped[str] = so.mapped_column(sa.String(200))
    subject: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    key: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    request_id: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    created_at: so.Mapped[created]
    published_at: so.Mapped[dt.datetime | None] = so.mapped_column(UTCDateTime)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)

    __table_args__ = (
        sa.Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        ),
    )


class ProcessedEvent(KitBase):
    """One row per event a consumer has handled, written in the handler's transaction."""

    __tablename__ = "processed_events"

    consumer: so.Mapped[str] = so.mapped_column(sa.String(100), primary_key=True)
    event_id: so.Mapped[str] = so.mapped_column(sa.String(100), primary_key=True)
    type: so.Mapped[str] = so.mapped_column(sa.String(200))
    processed_at: so.Mapped[created]


class AuditEntry(KitBase):
    """Who did what to which patient or account, why, when, and how it ended. Never updated."""

    __tablename__ = "audit_log"

    id: so.Mapped[intpk]
    at: so.Mapped[created]
    actor: so.Mapped[str] = so.mapped_column(sa.String(200))
    action: so.Mapped[str] = so.mapped_column(sa.String(100), index=True)
    patient: so.Mapped[str | None] = so.mapped_column(sa.String(100), index=True)
    target: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    purpose: so.Mapped[str] = so.mapped_column(sa.String(50), default="care")
    outcome: so.Mapped[str] = so.mapped_column(sa.String(50), default="ok")
    request_id: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    details: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)


def new_event_id():
    """A new CloudEvents id: a time-ordered UUID, so the outbox's unique index grows at its end."""
    return str(uuid7())
