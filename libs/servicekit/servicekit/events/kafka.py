"""kafka-python clients as DESIGN.md asks: idempotent producer, acks=all, manual commits."""

import contextlib
import logging

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 5000


def producer(bootstrap):
    """A producer that waits for every in-sync replica and never duplicates on retry."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        delivery_timeout_ms=2 * REQUEST_TIMEOUT_MS,
        max_block_ms=REQUEST_TIMEOUT_MS,
        bootstrap_timeout_ms=REQUEST_TIMEOUT_MS,
        reconnect_backoff_max_ms=1000,
    )


def consumer(bootstrap, group, topics):
    """A consumer of `topics` in `group`, from the earliest offset, committing by hand."""
    return KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # A short session lets a new member get its partitions in seconds, not half a minute.
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        bootstrap_timeout_ms=REQUEST_TIMEOUT_MS,
        reconnect_backoff_max_ms=1000,
    )


def ensure_topics(bootstrap, topics, partitions=1, replication=1):
    """Create the topics that do not exist yet (brokers may not auto-create them)."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        bootstrap_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        existing = set(admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if missing:
            new = [NewTopic(name, partitions, replication) for name in missing]
            # another worker may have created one in the meantime
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


__all__ = ["KafkaError", "consumer", "ensure_topics", "producer"]
