"""The outbox relay: publish unpublished rows in id order; mark them only once the broker acked.

Several workers may run: on PostgreSQL each claims its batch with SELECT ... FOR UPDATE SKIP
LOCKED and keeps those rows locked while it publishes them. On SQLite, whose one write lock
covers the whole database, the relay must not hold it while the broker answers (seconds when it
is down: every request that writes would wait, then fail), so relays take turns on a lock file
beside the database, read a batch, publish it outside any transaction, then mark it.
A broker that is down leaves the rows in place; the worker retries later, nothing is lost.
"""

import contextlib
import fcntl
import logging

import sqlalchemy as sa

from servicekit import metrics
from servicekit.events import codec
from servicekit.events.kafka import KafkaError
from servicekit.models import OutboxEvent, utcnow

log = logging.getLogger(__name__)

BATCH = 100
ACK_TIMEOUT = 15.0


class Relay:
    """Moves outbox rows to the broker with a producer made by `make_producer()` when needed."""

    def __init__(self, database, make_producer, service):
        self.database = database
        self.make_producer = make_producer
        self.service = service
        self.batch = BATCH
        self._producer = None

    def run_once(self):
        """Publish one batch; the number of rows published. KafkaError when the broker fails."""
        lock_path = _sqlite_lock_path(self.database.engine)
        if lock_path is None:
            rows, error = self._relay_locked_rows()
        else:
            with _exclusive(lock_path) as turn:
                rows, error = self._relay_detached_rows() if turn else ([], None)
        if error is not None:
            self.close()
            raise error
        if rows:
            log.info("events published", extra={"count": len(rows)})
        return len(rows)

    def _relay_locked_rows(self):
        with self.database.sessions() as session:
            if session.get_bind().dialect.name == "sqlite":  # in memory: no file to lock
                _take_sqlite_write_lock(session)
            rows = list(session.scalars(_unpublished(self.batch).with_for_update(skip_locked=True)))
            return rows, (self._publish(rows) if rows else None)

    def _relay_detached_rows(self):
        with self.database.sessions() as session:
            rows = list(session.scalars(_unpublished(self.batch)))
            session.expunge_all()  # kept, with their values, after the read ends
        if not rows:
            return rows, None
        error = self._publish(rows)
        with self.database.sessions() as session:
            session.add_all(rows)  # their changes (published_at, attempts) are written here
        return rows, error

    def _producer_or_new(self):
        if self._producer is None:
            self._producer = self.make_producer()
        return self._producer

    def _publish(self, rows):
        """Send the rows, mark those the broker acked; the first error, if any (rows stay)."""
        pending, first_error = [], None
        for row in rows:
            try:
                pending.append((row, self._send(row)))
            except KafkaError as exc:
                _record_failure(row, exc)
                first_error = exc
                break
        for row, future in pending:
            try:
                future.get(timeout=ACK_TIMEOUT)
            except KafkaError as exc:
                _record_failure(row, exc)
                first_error = first_error or exc
                continue
            row.published_at = utcnow()
            metrics.EVENTS_PUBLISHED.labels(self.service, row.type).inc()
        return first_error

    def _send(self, row):
        message = codec.to_message(row)
        return self._producer_or_new().send(
            row.topic, value=message.value, key=message.key, headers=codec.kafka_headers(message)
        )

    def close(self):
        """Close the producer; the next batch makes a new one."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            producer.close(timeout=5)


def _unpublished(batch):
    return (
        sa.select(OutboxEvent)
        .where(OutboxEvent.published_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(batch)
    )


def _sqlite_lock_path(engine):
    """The relays' lock file of a SQLite database file; None for other databases."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return engine.url.database + ".relay-lock"


@contextlib.contextmanager
def _exclusive(path):
    """True when this relay has the turn (an flock on path), False when another one has it."""
    with open(path, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record_failure(row, exc):
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:1000]


def _take_sqlite_write_lock(session):
    # A write as the transaction's first statement takes SQLite's single writer lock, so a second
    # worker waits here instead of reading the same unpublished rows.
    session.execute(
        sa.update(OutboxEvent).where(OutboxEvent.id == -1).values(attempts=OutboxEvent.attempts)
    )
