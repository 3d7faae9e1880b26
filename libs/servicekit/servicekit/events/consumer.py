"""The consumer: run the service's handlers once per event, commit offsets after the database.

Each event is handled in one transaction that also writes its processed_events row, so a
redelivered event is skipped. The offset is committed only after that transaction committed.
A message that is not a CloudEvent, or whose handler keeps failing, goes to `<topic>.dlq` with
the error in a header, and the consumer moves on to the next message.
"""

import logging
import time

import sqlalchemy as sa

from servicekit import metrics
from servicekit.events import codec
from servicekit.events.kafka import KafkaError, OffsetAndMetadata, TopicPartition
from servicekit.models import ProcessedEvent
from servicekit.topics import dlq_of

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_DELAY = 0.2
ERROR_HEADER = "enrs_error"
DLQ_ACK_TIMEOUT = 15.0


# Failures of the infrastructure, not of the event: the worker backs off and retries the message.
TRANSIENT_ERRORS = (KafkaError, sa.exc.OperationalError, sa.exc.InterfaceError)


class HandlerFailed(Exception):
    """A handler kept failing on an event; the message goes to the dead-letter topic."""


class Consumer:
    """Feeds messages from a kafka-python consumer to handlers by event type.

    `handlers` maps an event type to a list of handler(session, event) functions;
    `make_producer()` gives the producer used for dead letters.
    """

    def __init__(self, database, kafka_consumer, handlers, make_producer, name):
        self.database = database
        self.kafka = kafka_consumer
        self.handlers = handlers
        self.make_producer = make_producer
        self.name = name
        self.max_attempts = MAX_ATTEMPTS
        self._producer = None

    def run_once(self, timeout_ms=500, stop=None):
        """Poll once and process what came; the number of messages processed.

        When processing stops early (stop asked, or a TRANSIENT_ERRORS raised), each partition is
        rewound to its first unprocessed message, so nothing fetched is skipped.
        """
        batches = self.kafka.poll(timeout_ms=timeout_ms)
        records = [record for batch in batches.values() for record in batch]
        for done, record in enumerate(records):
            if stop is not None and stop.is_set():
                self._rewind(records[done:])
                return done
            try:
                self.process(record)
            except TRANSIENT_ERRORS:
                self._rewind(records[done:])
                raise
        return len(records)

    def process(self, record):
        """Handle one record (or dead-letter it), then commit its offset."""
        try:
            event = codec.from_record(record)
            self._handle_with_retries(event)
        except (ValueError, HandlerFailed) as exc:
            self._dead_letter(record, exc)
        self._commit(record)

    def _rewind(self, records):
        first_offsets = {}
        for record in records:
            first_offsets.setdefault(TopicPartition(record.topic, record.partition), record.offset)
        for partition, offset in first_offsets.items():
            self.kafka.seek(partition, offset)

    def _handle_with_retries(self, event):
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._handle(event)
                return
            except TRANSIENT_ERRORS:
                raise  # the database is unavailable: not the event's fault, retried later
            except Exception as exc:  # any handler bug: retried, then dead-lettered
                log.warning(
                    "event handler failed",
                    extra={
                        "event_id": event.get_id(),
                        "type": event.get_type(),
                        "attempt": attempt,
                        "error": type(exc).__name__,
                    },
                )
                if attempt == self.max_attempts:
                    raise HandlerFailed(f"{type(exc).__name__}: {exc}") from exc
                time.sleep(RETRY_DELAY * attempt)

    def _handle(self, event):
        if handle_event(self.database, self.handlers, self.name, event):
            metrics.EVENTS_CONSUMED.labels(self.name, event.get_type()).inc()

    def _dead_letter(self, record, error):
        headers = [*(record.headers or []), (ERROR_HEADER, str(error)[:1000].encode())]
        if self._producer is None:
            self._producer = self.make_producer()
        try:
            future = self._producer.send(
                dlq_of(record.topic), value=record.value, key=record.key, headers=headers
            )
            future.get(timeout=DLQ_ACK_TIMEOUT)
        except KafkaError:
            self._close_producer()  # a fresh one for the retry
            raise
        event_type = _header(record, "ce_type") or "unknown"
        metrics.EVENTS_DEAD_LETTERED.labels(self.name, event_type).inc()
        log.error(
            "event sent to the dead-letter topic",
            extra={"topic": record.topic, "offset": record.offset, "type": event_type},
        )

    def _commit(self, record):
        partition = TopicPartition(record.topic, record.partition)
        self.kafka.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})

    def close(self):
        """Close the Kafka consumer (leaving the group) and the dead-letter producer."""
        self.kafka.close()
        self._close_producer()

    def _close_producer(self):
        if self._producer is not None:
            producer, self._producer = self._producer, None
            producer.close(timeout=5)


def handle_event(database, handlers, consumer, event):
    """Run event's handlers in one transaction with its processed_events row; False if skipped.

    Skipped: no handler for its type, or `consumer` already processed this event id.
    """
    chosen = handlers.get(event.get_type(), [])
    if not chosen:
        return False
    with database.sessions() as session:
        if _already_processed(session, consumer, event.get_id()):
            log.info("event already processed", extra={"event_id": event.get_id()})
            return False
        for handler in chosen:
            handler(session, event)
        session.add(
            ProcessedEvent(consumer=consumer, event_id=event.get_id(), type=event.get_type())
        )
    return True


def _already_processed(session, consumer, event_id):
    query = sa.select(ProcessedEvent.event_id).where(
        ProcessedEvent.consumer == consumer, ProcessedEvent.event_id == event_id
    )
    return session.scalar(query) is not None


def _header(record, name):
    for key, value in record.headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None
