"""TestDatabase: migrated once, emptied after each test, the audit log included."""

import pytest
import sqlalchemy as sa
from kitapp.models import Note
from servicekit import audit, db, migrations
from servicekit.models import AuditEntry, OutboxEvent
from servicekit.testing import emitted


def count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def fill(app):
    with db.sessions(app) as session:
        audit.record(session, "gp-1", "patient.read", patient="p-1")
        session.add(Note(text="a note", author="gp-1"))
    with db.sessions(app) as session:
        return session.scalar(sa.select(Note.id))


def test_it_empties_every_table_and_keeps_the_schema_current(app, database):
    fill(app)
    database.empty(app)
    with db.sessions(app) as session:
        assert count(session, Note) == 0
        assert count(session, AuditEntry) == 0
        assert emitted(session) == []
    assert migrations.is_current(app)


def test_it_restarts_ids_so_tests_do_not_depend_on_order(app, database):
    first = fill(app)
    database.empty(app)
    assert fill(app) == first


def test_it_keeps_the_audit_log_append_only_after_emptying(app, database):
    fill(app)
    database.empty(app)
    fill(app)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.sessions(app) as session:
        session.execute(sa.delete(AuditEntry))


def test_it_lists_the_tables_without_the_alembic_version_table(database):
    assert set(database.tables()) == {"audit_log", "outbox", "processed_events", "notes"}
    assert OutboxEvent.__tablename__ in database.tables()
