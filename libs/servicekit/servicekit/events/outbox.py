"""The outbox: an event is a row written in the same transaction as the change it describes."""

from collections.abc import Iterable
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.sql import util as sql_util

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

    An INSERT on the session's connection (servicekit.bulk's): the row commits or rolls back
    with the business write, and no ORM object is tracked (a flush of one cost more than the
    rest of the event). Rows written by `emit` and `emit_many` are numbered in the order of the
    calls.
    """
    bulk.insert_one(session, *event_row(type, subject, data, key))


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


class _RowId:
    """In the data of emit_per_row: the row's UUID id as text, the event's id and subject."""

    label = "row_id_text"

    def __repr__(self):
        return "ROW_ID"


ROW_ID = _RowId()


def emit_per_row(session, type, id_column, data: dict, where, params: dict | None = None) -> None:
    """Queue one event of `type` per row of id_column's table that `where` selects, in id order,
    written by the database in one INSERT ... SELECT rather than built row by row in Python.

    Each event's id, subject and key are its row's UUID `id` as text (row_id_text): an event
    announcing that a row was created happens once per row, so its row's id identifies it.
    `data` names what makes the event's JSON object, in order: columns of the table, ROW_ID,
    or constants (a boolean as sa.true()). `params` are the values of the bound parameters of
    `where`: a caller that emits again and again gives the same `where` (with sa.bindparam) and
    the same `data`, and the statement is built once (building it cost ten times executing it
    for a batch of 2,000 rows on SQLite).
    """
    dialect = session.get_bind().dialect.name
    statement = _per_row_insert(dialect, type, id_column, tuple(data.items()), where)
    shared = {f"{_SHARED}{name}": value for name, value in _shared(type).items()}
    session.execute(statement, {**shared, **(params or {})})


# The bound parameters of the values every event of an emit_per_row has in common.
_SHARED = "shared_"


@lru_cache(maxsize=32)
def _per_row_insert(dialect: str, type, id_column, data: tuple, where):
    """The INSERT ... SELECT of emit_per_row, the values shared by its events left as bound
    parameters (_SHARED + name)."""
    # The rows are read by a subquery that turns each id into text once: SQLite, which keeps a
    # UUID as 32 hex digits, would otherwise rebuild the text at each of its four uses (half
    # the cost of the INSERT). A sorted subquery is not merged into the query that reads it.
    table = id_column.table
    values = dict(data)
    columns = [value for value in values.values() if isinstance(value, sa.Column)]
    if any(column.table is not table for column in columns):
        raise ValueError("emit_per_row: every column of data must be one of the rows' table")
    rows = (
        sa.select(row_id_text(dialect, id_column).label(ROW_ID.label), *columns)
        .where(where)
        .order_by(id_column)
        .subquery()
    )
    subject = rows.c[ROW_ID.label]
    fields = {name: _read_from(rows, value) for name, value in values.items()}
    stored = OutboxEvent.__table__.c
    shared = [sa.bindparam(_SHARED + name, type_=stored[name].type) for name in _SHARED_NAMES]
    query = sa.select(subject, *shared, subject, subject, _json_object(dialect, fields))
    written = ["event_id", *_SHARED_NAMES, "subject", "key", "data"]
    return sa.insert(OutboxEvent.__table__).from_select(written, query)


def _read_from(rows, value):
    """A value of emit_per_row's data, as the query over its subquery `rows` reads it."""
    if value is ROW_ID:
        return rows.c[ROW_ID.label]
    if isinstance(value, sa.Column):
        return rows.c[value.name]
    constant = isinstance(value, sa.ClauseElement) and not sql_util.find_tables(
        value, check_columns=True
    )
    if not constant:  # an expression over a table would read it again, beside the subquery
        raise ValueError(f"emit_per_row: {value!r} is neither a column nor a constant")
    return value


def row_id_text(dialect: str, column):
    """A UUID column as its usual text (what str() of the UUID gives), in SQL, on the database
    `dialect` names."""
    if dialect == "postgresql":
        return sa.cast(column, sa.Text)
    # SQLite keeps a UUID as 32 hex digits: dashes go in at 8, 12, 16 and 20.
    hex_ = sa.type_coerce(column, sa.String)
    parts = [sa.func.substr(hex_, start, length) for start, length in _UUID_PARTS]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + sa.literal("-") + part
    return sa.func.lower(joined)


_UUID_PARTS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def _json_object(dialect: str, fields: dict):
    """A JSON object of named SQL values, keys in the order given."""
    pairs = [item for name, value in fields.items() for item in (sa.literal(name), value)]
    if dialect == "postgresql":
        return sa.func.json_build_object(*pairs)
    return sa.func.json_object(*(_sqlite_json(item) for item in pairs))


def _sqlite_json(value):
    # SQLite has no boolean: true must be given as JSON.
    return sa.func.json("true") if isinstance(value, sa.sql.elements.True_) else value


# What every event queued at once has in common, in this order (_shared).
_SHARED_NAMES = ("topic", "type", "source", "request_id", "created_at", "attempts")


def _shared(type) -> dict:
    """The values every event of `type` queued now has in common, by name."""
    values = (event_type(type).topic, type, _source(), current_request_id(), utcnow(), 0)
    return dict(zip(_SHARED_NAMES, values, strict=True))
