"""Events through the real broker (Tansu): relay, outage, idempotent consumer, dead letters."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import kitapp.handlers
import pytest
import sqlalchemy as sa
from kitapp.models import Note
from prometheus_client import REGISTRY
from servicekit import db, migrations
from servicekit.events import codec, kafka
from servicekit.events.registry import handlers_by_type
from servicekit.events.worker import Worker
from servicekit.models import OutboxEvent, ProcessedEvent, utcnow
from servicekit.testing import TansuBroker, emitted, eventually, read_events, read_records

pytestmark = pytest.mark.broker

TOPIC = "enrs.identity"
REQUEST_ID = "req-broker-0000001"


@pytest.fixture
def broker():
    """A fresh Tansu per test, so every topic starts empty."""
    with TansuBroker() as tansu:
        yield tansu


@pytest.fixture
def app(settings, database, broker):
    application = kitapp.create_app(
        {**settings, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "KAFKA_TIMEOUT_MS": 2000}
    )
    database.migrate(application)
    yield application
    database.empty(application)


@pytest.fixture
def start_worker(app):
    """Run a Worker in a thread; every worker started is stopped at the end of the test."""
    started = []

    def start(handlers=None):
        worker = Worker(app, handlers=handlers if handlers is not None else {})
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        started.append((worker, thread))
        return worker

    yield start
    for worker, thread in started:
        worker.stop()
        thread.join(timeout=20)
        assert not thread.is_alive(), "the worker did not stop"


def write_note(client, headers, text):
    response = client.post("/api/v1/notes", json={"text": text}, headers=headers)
    assert response.status_code == 201
    return response


def published_count():
    labels = {"service": "kitapp", "type": "fr.enrs.identity.user.created"}
    return REGISTRY.get_sample_value("enrs_events_published_total", labels) or 0


def dead_lettered_count():
    total = 0
    for type in ("fr.enrs.identity.user.created", "unknown"):
        labels = {"service": "kitapp", "type": type}
        total += REGISTRY.get_sample_value("enrs_events_dead_lettered_total", labels) or 0
    return total


def unpublished(app):
    with db.sessions(app) as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
        )


def outbox_ids(app):
    with db.sessions(app) as session:
        return [row.event_id for row in emitted(session)]


def notes_by(app, text):
    with db.sessions(app) as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Note).where(Note.text == text))


def test_it_delivers_an_emitted_event_once_as_a_cloudevent(app, client, gp, start_worker):
    published_before = published_count()
    write_note(client, {**gp, "X-Request-ID": REQUEST_ID}, "dr.martin")
    start_worker()
    eventually(lambda: unpublished(app) == 0, message="the outbox was not relayed")
    assert published_count() == published_before + 1
    write_note(client, gp, "sentinel")  # what follows the first event on the topic
    [first_id, sentinel_id] = outbox_ids(app)

    first, sentinel = read_events(app.config["KAFKA_BOOTSTRAP_SERVERS"], TOPIC, 2)

    assert [first.get_id(), sentinel.get_id()] == [first_id, sentinel_id]
    assert first.get_type() == "fr.enrs.identity.user.created"
    assert first.get_source() == "/enrs/kitapp"
    assert first.get_data()["username"] == "dr.martin"
    assert first.get_subject() == first.get_data()["user_id"]
    assert codec.request_id(first) == REQUEST_ID


def test_it_keeps_events_while_the_broker_is_down_and_sends_them_once_after(
    app, client, gp, broker, start_worker
):
    broker.stop()
    start_worker()
    for name in ("dr.a", "dr.b", "dr.c"):
        write_note(client, gp, name)  # requests succeed: web processes never talk to Kafka
    eventually(lambda: _attempted(app), timeout=20, message="the relay did not try")
    assert unpublished(app) == 3

    broker.start()
    eventually(lambda: unpublished(app) == 0, timeout=30, message="not relayed after restart")
    write_note(client, gp, "sentinel")
    eventually(lambda: unpublished(app) == 0, timeout=30, message="sentinel not relayed")

    events = read_events(broker.bootstrap, TOPIC, 4)
    assert [event.get_id() for event in events] == outbox_ids(app)


def test_requests_keep_writing_while_the_relay_waits_on_a_broker_that_is_down(
    app, client, gp, broker, start_worker
):
    # Each publication attempt now blocks for 8 s, longer than SQLite's 5 s wait for its lock:
    # a relay holding the database's write lock meanwhile would make these writes fail.
    app.config["KAFKA_TIMEOUT_MS"] = 8000
    broker.stop()
    write_note(client, gp, "dr.pending")
    start_worker()
    written, until = 0, time.monotonic() + 6  # writes back to back across the relay's attempt
    while time.monotonic() < until:
        started = time.monotonic()
        write_note(client, gp, f"dr.during-outage-{written}")
        assert time.monotonic() - started < 2.5, "a write waited on the relay"
        written += 1
    assert notes_by(app, f"dr.during-outage-{written - 1}") == 1


def test_two_workers_relay_each_event_once(app, client, gp, start_worker):
    for number in range(12):
        write_note(client, gp, f"dr.{number}")
    for worker in (start_worker(), start_worker()):
        worker.relay.batch = 2  # small batches, so the two workers race for rows
    eventually(lambda: unpublished(app) == 0, timeout=30, message="the outbox was not relayed")

    events = read_events(app.config["KAFKA_BOOTSTRAP_SERVERS"], TOPIC, 12)

    assert sorted(event.get_id() for event in events) == sorted(outbox_ids(app))


def _attempted(app):
    with db.sessions(app) as session:
        return session.scalar(sa.select(sa.func.max(OutboxEvent.attempts))) or 0


def publish(bootstrap, *messages):
    """Put raw messages on the identity topic, as another service's relay would."""
    kafka.ensure_topics(bootstrap, [TOPIC, f"{TOPIC}.dlq"])
    producer = kafka.producer(bootstrap)
    try:
        for message in messages:
            headers = codec.kafka_headers(message) if hasattr(message, "headers") else []
            value = getattr(message, "value", message)
            producer.send(TOPIC, value=value, headers=headers).get(timeout=10)
    finally:
        producer.close()


def created_event(username):
    """The message identity's relay would send for a new account."""
    row = OutboxEvent(
        event_id=str(uuid.uuid4()),
        topic=TOPIC,
        type="fr.enrs.identity.user.created",
        source="/enrs/identity",
        subject="u-1",
        key="u-1",
        data={"user_id": "u-1", "username": username},
        created_at=utcnow(),
    )
    return codec.to_message(row)


def test_it_runs_the_handler_once_for_a_redelivered_event(app, start_worker):
    duplicate = created_event("dr.twice")
    publish(app.config["KAFKA_BOOTSTRAP_SERVERS"], duplicate, duplicate, created_event("sentinel"))
    start_worker(handlers_by_type("kitapp"))

    eventually(lambda: notes_by(app, "sentinel") == 1, timeout=30, message="events not handled")
    assert notes_by(app, "dr.twice") == 1
    with db.sessions(app) as session:
        handled = session.scalar(sa.select(sa.func.count()).select_from(ProcessedEvent))
    assert handled == 2


def test_it_retries_an_event_whose_database_was_down_instead_of_dead_lettering_it(
    app, start_worker
):
    calls = []

    def copy_username_once_the_database_is_back(session, event):
        calls.append(event.get_id())
        if len(calls) == 1:
            raise sa.exc.OperationalError("INSERT", {}, ConnectionError("database is down"))
        session.add(Note(text=event.get_data()["username"], author="handler"))

    dead_lettered_before = dead_lettered_count()
    publish(app.config["KAFKA_BOOTSTRAP_SERVERS"], created_event("dr.patient"))
    start_worker({"fr.enrs.identity.user.created": [copy_username_once_the_database_is_back]})

    eventually(lambda: notes_by(app, "dr.patient") == 1, timeout=30, message="not retried")
    assert len(calls) == 2 and calls[0] == calls[1]
    assert dead_lettered_count() == dead_lettered_before


def test_it_dead_letters_a_poison_message_and_goes_on(app, start_worker):
    bootstrap = app.config["KAFKA_BOOTSTRAP_SERVERS"]
    dead_lettered_before = dead_lettered_count()
    publish(bootstrap, created_event(kitapp.handlers.POISON), b"not a cloudevent")
    publish(bootstrap, created_event("dr.after"))
    start_worker(handlers_by_type("kitapp"))

    eventually(lambda: notes_by(app, "dr.after") == 1, timeout=30, message="next not handled")
    assert dead_lettered_count() == dead_lettered_before + 2
    poison, garbage = read_records(bootstrap, f"{TOPIC}.dlq", 2)
    assert b"RuntimeError" in dict(poison.headers)["enrs_error"]
    assert dict(poison.headers)["ce_type"] == b"fr.enrs.identity.user.created"
    assert b"not a CloudEvent" in dict(garbage.headers)["enrs_error"]
    assert garbage.value == b"not a cloudevent"


@pytest.fixture
def worker_command(settings, database, broker, tmp_path):
    """`flask --app kitapp worker` started on an empty database; yields (app, process, log)."""
    log_path = tmp_path / "worker.log"
    with database.scratch() as url, log_path.open("wb") as log:
        env = {
            **os.environ,
            **{name: str(value) for name, value in settings.items() if name != "TESTING"},
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "PYTHONPATH": str(Path(__file__).resolve().parent),
            "LOG_LEVEL": "INFO",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "kitapp", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        app = kitapp.create_app({**settings, "DATABASE_URL": url})
        try:
            yield app, process, log_path
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            db.database(app).dispose()


@pytest.mark.slow
def test_the_worker_command_migrates_relays_and_stops_on_sigterm(worker_command, gp):
    app, process, log_path = worker_command
    eventually(lambda: _migrated(app), timeout=30, message="the worker did not migrate")
    write_note(app.test_client(), gp, "dr.cli")
    eventually(lambda: unpublished(app) == 0, timeout=30, message="the worker did not relay")

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=20) == 0
    messages = [
        json.loads(line)["message"]
        for line in log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    assert "worker stopped" in messages


def _migrated(app):
    try:
        return migrations.is_current(app)
    except sa.exc.DBAPIError:
        return False  # the worker is still creating the tables
