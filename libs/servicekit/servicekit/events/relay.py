"""The outbox relay: publish unpublished rows in id order; mark them only once the broker acked.

Several workers may run: on PostgreSQL each claims its batch with SELECT ... FOR UPDATE SKIP
LOCKED; on SQLite the relay takes the database's write lock first, so one relays at a time.
A broker that is down leaves the rows in place; the worker retries later, nothing is lost.
"""

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
        with self.database.sessions() as session:
            rows = self._claim(session, self.batch)
            error = self._publish(rows) if rows else None
        if error is not None:
            self.close()
            raise error
        if rows:
            log.info("events published", extra={"count": len(rows)})
        return len(rows)

    def _claim(self, session, batch):
        if session.get_bind().dialect.name == "sqlite":
            _take_sqlite_write_lock(session)
        query = (
            sa.select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        return list(session.scalars(query))

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


def _record_failure(row, exc):
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:1000]


def _take_sqlite_write_lock(session):
    # A write as the transaction's first statement takes SQLite's single writer lock, so a second
    # worker waits here instead of reading the same unpublished rows.
    session.execute(
        sa.update(OutboxEvent).where(OutboxEvent.id == -1).values(attempts=OutboxEvent.attempts)
    )
