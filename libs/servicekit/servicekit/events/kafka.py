"""kafka-python clients as DESIGN.md asks: idempotent producer, acks=all, manual commits."""

import contextlib
import logging
import warnings

with warnings.catch_warnings():
    # kafka-python 3.0 reads its protocol schemas with a deprecated importlib.resources call;
    # importing it here, once, keeps that warning from failing strict test runs.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError
    from kafka.structs import OffsetAndMetadata

log = logging.getLogger(__name__)

TIMEOUT_MS = 5000


def producer(bootstrap, timeout_ms=TIMEOUT_MS):
    """A producer that waits for every in-sync replica and never duplicates on retry."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=timeout_ms,
        delivery_timeout_ms=2 * timeout_ms,
        max_block_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
        reconnect_backoff_max_ms=1000,
    )


def consumer(bootstrap, group, topics, timeout_ms=TIMEOUT_MS):
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
        bootstrap_timeout_ms=timeout_ms,
        reconnect_backoff_max_ms=1000,
    )


def reader(bootstrap, timeout_ms=TIMEOUT_MS):
    """A consumer outside any group, for tools and tests that assign partitions themselves."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_timeout_ms=timeout_ms,
    )


def ensure_topics(bootstrap, topics, timeout_ms=TIMEOUT_MS, partitions=1, replication=1):
    """Create the topics that do not exist yet (brokers may not auto-create them)."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
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


__all__ = [
    "KafkaError",
    "OffsetAndMetadata",
    "TopicPartition",
    "consumer",
    "ensure_topics",
    "producer",
    "reader",
]
