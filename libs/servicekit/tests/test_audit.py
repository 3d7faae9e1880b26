"""audit.record: one append-only row in the caller's transaction, with the request id."""

import sqlalchemy as sa
from servicekit import audit, db
from servicekit.models import AuditEntry


def entries(app):
    with db.sessions(app) as session:
        return session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()


def test_it_writes_the_entry_when_the_callers_transaction_commits(app):
    with db.sessions(app) as session:
        audit.record(session, "gp-1", "patient.read", patient="p-1", details={"why": "soins"})
    [entry] = entries(app)
    assert (entry.actor, entry.action, entry.patient) == ("gp-1", "patient.read", "p-1")
    assert (entry.purpose, entry.outcome, entry.details) == ("care", "ok", {"why": "soins"})
    assert entry.at is not None


def test_it_drops_the_entry_when_the_callers_transaction_rolls_back(app):
    session = db.database(app).session_factory()
    try:
        audit.record(session, "gp-1", "patient.read", patient="p-1")
        session.rollback()
    finally:
        session.close()
    assert entries(app) == []


def test_it_keeps_the_request_id_of_the_request_that_wrote_it(app):
    request = app.test_request_context(headers={"X-Request-ID": "req-123456"})
    with request, db.sessions(app) as session:
        audit.record(session, "gp-1", "patient.read", patient="p-1")
    assert [entry.request_id for entry in entries(app)] == ["req-123456"]
