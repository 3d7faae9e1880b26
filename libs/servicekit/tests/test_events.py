"""emit writes one outbox row in the caller's transaction; the codec makes CloudEvents of rows."""

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from cloudevents.core.bindings import kafka as binding
from kitapp.models import Note
from servicekit import db
from servicekit.events import codec, emit, emit_many, emit_per_row
from servicekit.models import OutboxEvent
from servicekit.testing import deliver, emitted, make_event

CREATED = "fr.enrs.identity.user.created"
REQUEST_ID = "req-events-000001"


def as_record(message, topic="enrs.identity"):
    """A consumed record as kafka-python gives it: headers as a list of (name, bytes)."""
    return SimpleNamespace(
        topic=topic, headers=codec.kafka_headers(message), key=message.key, value=message.value
    )


def test_it_writes_exactly_one_outbox_row_with_the_change(app, client, gp):
    response = client.post(
        "/api/v1/notes", json={"text": "dr.martin"}, headers={**gp, "X-Request-ID": REQUEST_ID}
    )
    assert response.status_code == 201
    with db.sessions(app) as session:
        [row] = emitted(session)
    note_id = str(response.get_json()["id"])
    assert (row.type, row.topic, row.source) == (CREATED, "enrs.identity", "/enrs/kitapp")
    assert (row.subject, row.key, row.request_id) == (note_id, note_id, REQUEST_ID)
    assert row.data == {"user_id": note_id, "username": "dr.martin"}
    assert row.published_at is None


def test_it_leaves_no_row_when_the_transaction_rolls_back(app):
    with app.app_context():
        session = db.session()
        emit(session, CREATED, "u-1", {"user_id": "u-1", "username": "x"})
        session.rollback()
        assert emitted(session) == []


def test_it_writes_the_row_at_once_in_the_transaction_without_tracking_an_object(app):
    with app.app_context():
        session = db.session()
        emit(session, CREATED, "u-1", {"user_id": "u-1", "username": "x"})
        assert not session.new  # nothing left for a flush to write
        # On the session's connection, without the autoflush an ORM query would do first.
        count = sa.select(sa.func.count()).select_from(OutboxEvent.__table__)
        assert session.connection().execute(count).scalar() == 1
        session.rollback()


def test_emit_and_emit_many_rows_keep_the_order_of_the_calls(app):
    with app.app_context():
        session = db.session()
        emit(session, CREATED, "u-0", {"user_id": "u-0", "username": "a"})
        emit_many(session, CREATED, [("u-1", {"user_id": "u-1", "username": "b"})])
        emit(session, CREATED, "u-2", {"user_id": "u-2", "username": "c"})
        session.commit()
        assert [row.subject for row in emitted(session)] == ["u-0", "u-1", "u-2"]


def test_it_refuses_an_event_type_missing_from_the_catalogue(app):
    with app.app_context(), pytest.raises(ValueError, match="not in the event catalogue"):
        emit(db.session(), "fr.enrs.identity.user.teleported", "u-1", {})


def test_emit_many_writes_the_rows_emit_would_write_in_the_order_given(app):
    with app.app_context():
        session = db.session()
        emit(session, CREATED, "u-0", {"user_id": "u-0", "username": "a"})
        pairs = [(f"u-{n}", {"user_id": f"u-{n}", "username": f"n{n}"}) for n in (1, 2, 3)]
        assert emit_many(session, CREATED, pairs) == 3
        session.commit()
        rows = emitted(session)
    single, *many = rows
    assert [(row.subject, row.key, row.data) for row in rows] == [
        ("u-0", "u-0", {"user_id": "u-0", "username": "a"}),
        *((subject, subject, data) for subject, data in pairs),
    ]
    shared = ("type", "topic", "source", "request_id", "published_at", "attempts", "last_error")
    for row in many:
        assert [getattr(row, name) for name in shared] == [getattr(single, name) for name in shared]
        assert row.created_at.tzinfo is not None
    assert len({row.event_id for row in rows}) == 4


def test_emit_many_leaves_no_row_when_the_transaction_rolls_back(app):
    with app.app_context():
        session = db.session()
        emit_many(session, CREATED, [("u-1", {"user_id": "u-1", "username": "x"})])
        session.rollback()
        assert emitted(session) == []


def test_emit_many_refuses_an_event_type_missing_from_the_catalogue(app):
    with app.app_context(), pytest.raises(ValueError, match="not in the event catalogue"):
        emit_many(db.session(), "fr.enrs.identity.user.teleported", [("u-1", {})])


def test_emit_many_writes_nothing_for_no_events(app):
    with app.app_context():
        session = db.session()
        assert emit_many(session, CREATED, []) == 0
        assert emitted(session) == []


@pytest.mark.parametrize(
    "value",
    [
        OutboxEvent.__table__.c.type,  # another table's column
        sa.func.lower(Note.__table__.c.text),  # computed from the rows: not read from them
        Note.text,  # an ORM attribute, not a column
    ],
)
def test_emit_per_row_builds_its_data_from_its_rows_columns_and_constants_only(app, value):
    notes = Note.__table__
    with app.app_context(), pytest.raises(ValueError, match="emit_per_row"):
        emit_per_row(db.session(), CREATED, notes.c.id, {"text": value}, notes.c.id > 0)


def test_it_turns_a_row_into_a_binary_mode_cloudevent_and_back(app, client, gp):
    headers = {**gp, "X-Request-ID": REQUEST_ID}
    client.post("/api/v1/notes", json={"text": "dr.roux"}, headers=headers)
    with db.sessions(app) as session:
        [row] = emitted(session)
    message = codec.to_message(row)
    assert message.headers["ce_type"] == CREATED.encode()
    assert message.headers["ce_specversion"] == b"1.0"
    assert message.headers["content-type"] == b"application/json"
    assert message.key == row.key.encode()
    event = codec.from_record(as_record(message))
    assert (event.get_id(), event.get_type(), event.get_source()) == (
        row.event_id,
        CREATED,
        "/enrs/kitapp",
    )
    assert event.get_subject() == row.subject
    assert event.get_data() == row.data
    assert codec.request_id(event) == REQUEST_ID
    assert event.get_time() == row.created_at


def test_it_refuses_a_message_that_is_not_a_cloudevent():
    record = SimpleNamespace(topic="enrs.identity", headers=[], key=None, value=b"not json")
    with pytest.raises(ValueError, match="not a CloudEvent"):
        codec.from_record(record)


def test_it_refuses_a_cloudevent_whose_body_is_not_json():
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"e-1"),
        ("ce_type", CREATED.encode()),
        ("ce_source", b"/enrs/identity"),
        ("content-type", b"application/json"),
    ]
    record = SimpleNamespace(topic="enrs.identity", headers=headers, key=None, value=b"{oops")
    with pytest.raises(ValueError, match="not a CloudEvent"):
        codec.from_record(record)


def test_it_delivers_an_event_to_the_handlers_once_per_event_id(app):
    event = make_event(CREATED, "u-7", {"user_id": "u-7", "username": "dr.bernard"})

    assert deliver(app, event) is True
    assert deliver(app, event) is False
    with db.sessions(app) as session:
        notes = session.scalars(sa.select(Note.text)).all()
    assert notes == ["dr.bernard"]


def test_it_skips_an_event_the_service_has_no_handler_for(app):
    event = make_event("fr.enrs.identity.user.locked", "u-7", {"user_id": "u-7"})
    assert deliver(app, event) is False


def test_it_makes_events_shaped_like_the_relays(app):
    event = make_event(CREATED, "u-7", {"user_id": "u-7"}, request_id=REQUEST_ID)
    assert event.get_source() == "/enrs/identity"
    assert codec.request_id(event) == REQUEST_ID
    message = binding.to_binary(event, codec.FORMAT)
    assert codec.from_record(as_record(message)).get_id() == event.get_id()
