"""insert_rows: one row per table, the rows Core would write, one statement on PostgreSQL."""

import pytest
import sqlalchemy as sa
from servicekit import audit, db
from servicekit.events import event_row
from servicekit.models import AuditEntry, OutboxEvent
from servicekit.rows import insert_rows
from servicekit.testing import emitted

CREATED = "fr.enrs.identity.user.created"


def an_event_and_its_entry():
    return [
        event_row(CREATED, "u-1", {"user_id": "u-1", "username": "dr.martin"}),
        audit.entry("gp-1", "identity.user.created", purpose="administration", target="u-1"),
    ]


def writes_sent(app, write):
    """The INSERT statements write(session) sent to the database."""
    sent = statements_sent(app, write)
    return [statement for statement in sent if statement.lstrip().startswith(("INSERT", "WITH"))]


def statements_sent(app, write):
    """Every statement write(session) sent to the database."""
    engine = db.database(app).engine
    sent = []

    def keep(_conn, _cursor, statement, *_args):
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        with db.sessions(app) as session:
            write(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    return sent


def test_it_writes_the_rows_emit_and_record_would_write(app):
    with db.sessions(app) as session:
        insert_rows(session, an_event_and_its_entry())
    with db.sessions(app) as session:
        [event] = emitted(session)
        [entry] = session.scalars(sa.select(AuditEntry)).all()
    assert (event.type, event.subject, event.key, event.topic) == (
        CREATED,
        "u-1",
        "u-1",
        "enrs.identity",
    )
    assert event.data == {"user_id": "u-1", "username": "dr.martin"} and event.attempts == 0
    assert event.created_at.tzinfo is not None and event.published_at is None
    assert (entry.actor, entry.action, entry.target, entry.details) == (
        "gp-1",
        "identity.user.created",
        "u-1",
        {},
    )
    assert entry.at.tzinfo is not None


def test_it_leaves_no_row_when_the_transaction_rolls_back(app):
    session = db.database(app).session_factory()
    try:
        insert_rows(session, an_event_and_its_entry())
        session.rollback()
        assert emitted(session) == []
        assert session.scalars(sa.select(AuditEntry)).all() == []
    finally:
        session.close()


def test_it_sends_one_statement_on_postgresql_and_one_per_row_elsewhere(app):
    inserts = writes_sent(app, lambda session: insert_rows(session, an_event_and_its_entry()))
    expected = 1 if db.database(app).engine.dialect.name == "postgresql" else 2
    assert len(inserts) == expected


def test_a_row_without_a_python_side_default_column_is_written_by_core(app):
    table, values = audit.entry("gp-1", "patient.read", patient="p-1")
    del values["at"]  # Core fills in the column's default, utcnow
    with db.sessions(app) as session:
        insert_rows(session, [(table, values), event_row(CREATED, "u-2", {})])
    with db.sessions(app) as session:
        [entry] = session.scalars(sa.select(AuditEntry)).all()
        assert entry.at is not None and len(emitted(session)) == 1


def test_it_refuses_two_rows_for_one_table(app):
    rows = [event_row(CREATED, "u-1", {}), event_row(CREATED, "u-2", {})]
    with app.app_context(), pytest.raises(ValueError, match="one row per table"):
        insert_rows(db.session(), rows)


def test_it_starts_no_transaction_for_no_rows(app):
    with app.app_context():
        session = db.session()
        insert_rows(session, [])
        assert not session.in_transaction()


def an_event_to_claim(app):
    """An outbox row, and a guard that claims it once (attempts 0 -> 1)."""
    with db.sessions(app) as session:
        insert_rows(session, [event_row(CREATED, "u-9", {})])
    with db.sessions(app) as session:
        [event] = emitted(session)
    table = OutboxEvent.__table__
    claim = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"), table.c.attempts == 0)
        .values(attempts=1)
    )
    return event.id, (claim, {"row_id": event.id})


def test_rows_guarded_by_an_update_are_written_when_it_changes_a_row(app):
    _event_id, guard = an_event_to_claim(app)
    with db.sessions(app) as session:
        assert insert_rows(session, an_event_and_its_entry(), guard=guard)
    with db.sessions(app) as session:
        assert sorted(event.attempts for event in emitted(session)) == [0, 1]
        assert len(session.scalars(sa.select(AuditEntry)).all()) == 1


def test_rows_guarded_by_an_update_that_changes_nothing_are_not_written(app):
    _event_id, guard = an_event_to_claim(app)
    with db.sessions(app) as session:
        assert insert_rows(session, [], guard=guard)
    with db.sessions(app) as session:
        assert not insert_rows(session, an_event_and_its_entry(), guard=guard)
    with db.sessions(app) as session:
        assert [event.attempts for event in emitted(session)] == [1]
        assert session.scalars(sa.select(AuditEntry)).all() == []


def test_a_guard_and_its_rows_are_one_statement_on_postgresql(app):
    _event_id, guard = an_event_to_claim(app)
    sent = statements_sent(
        app, lambda session: insert_rows(session, an_event_and_its_entry(), guard)
    )
    expected = 1 if db.database(app).engine.dialect.name == "postgresql" else 3
    assert len(sent) == expected
