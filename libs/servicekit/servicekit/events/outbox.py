"""The outbox: an event is a row written in the same transaction as the change it describes."""

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app, has_app_context

from servicekit import bulk
from servicekit.models import OutboxEvent, new_event_id, utcnow
from servicekit.requestid import current_request_id
from servicekit.topics import event_type


def _source():
    if has_app_context():
        return current_app.config.get("EVENT_SOURCE") or f"/enrs/{current_app.name}"
    return "/enrs"


def emit(session, type, subject, data, key=None):
    """Queue an event: an outbox row written in session's transaction, sent after commit.

    A Core INSERT on the session's connection: the row commits or rolls back with the business
    write, and no ORM object is tracked (a flush of one cost more than the rest of the event).
    Rows written by `emit` and `emit_many` are numbered in the order of the calls.
    """
    _table, row = event_row(type, subject, data, key)
    session.connection().execute(_INSERT, row)


def event_row(type, subject, data, key=None):
    """The outbox row `emit` writes, as (table, values): to write with other rows at once.

    For `servicekit.rows.insert_rows`, which writes one row per table in one statement.
    """
    row = {
        **_shared(type),
        "event_id": new_event_id(),
        "subject": subject,
        "key": key or subject,
        "data": data,
    }
    return OutboxEvent.__table__, row


def emit_many(session, type, events: Iterable[tuple[str, dict]]) -> int:
    """Queue events of one type, given as (subject, data) pairs keyed by their subject.

    The rows `emit` would add, written at once by one driver-level executemany INSERT in the
    session's transaction (servicekit.bulk: a bulk import emits hundreds of thousands; an ORM
    object, or Core's per-row parameter handling, each costs several times more). Rows are
    numbered in the order given; returns how many were queued.
    """
    shared = _shared(type)
    rows = [
        {**shared, "event_id": new_event_id(), "subject": subject, "key": subject, "data": data}
        for subject, data in events
    ]
    if rows:
        # Changes pending in the session were made before these events: they are written first.
        session.flush()
        bulk.insert_many(session, OutboxEvent.__table__, rows)
    return len(rows)


def _shared(type) -> dict:
    """The values every event of `type` queued now has in common."""
    return {
        "topic": event_type(type).topic,
        "type": type,
        "source": _source(),
        "request_id": current_request_id(),
        "created_at": utcnow(),
        "attempts": 0,
    }


_INSERT = sa.insert(OutboxEvent.__table__)
