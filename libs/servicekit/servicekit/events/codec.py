"""Outbox rows <-> CloudEvents 1.0 in the Kafka protocol binding, binary mode (ce_* headers).

The body is the event's data as JSON; the message key is the row's key (the aggregate id); the
request id that caused the event travels as the CloudEvents extension `requestid`.
"""

from cloudevents.core.bindings import kafka as binding
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

FORMAT = JSONFormat()
REQUEST_ID = "requestid"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_type", "ce_source")


def to_event(row):
    """The CloudEvent an outbox row stands for."""
    attributes = {
        "id": row.event_id,
        "type": row.type,
        "source": row.source,
        "time": row.created_at,
        "datacontenttype": CONTENT_TYPE,
    }
    if row.subject:
        attributes["subject"] = row.subject
    if row.request_id:
        attributes[REQUEST_ID] = row.request_id
    return CloudEvent(attributes, row.data)


def _key(row):
    return row.key.encode() if row.key else None


def to_message(row):
    """The Kafka message (headers, key, value) of an outbox row, in binary mode."""
    return binding.to_binary(to_event(row), FORMAT, key_mapper=lambda _event: _key(row))


def kafka_headers(message):
    """Headers as kafka-python wants them: a list of (name, bytes)."""
    return list(message.headers.items())


def from_record(record):
    """The CloudEvent carried by a kafka-python ConsumerRecord; ValueError if it is not one."""
    headers = {name: value for name, value in record.headers or () if value is not None}
    missing = [name for name in REQUIRED_HEADERS if name not in headers]
    if missing:
        raise ValueError(f"the message is not a CloudEvent: no {', '.join(missing)} header")
    message = binding.KafkaMessage(headers=headers, key=record.key, value=record.value)
    try:
        event = binding.from_binary(message, FORMAT, CloudEvent)
    except (BaseCloudEventException, TypeError, ValueError) as exc:
        raise ValueError(f"the message is not a CloudEvent: {exc}") from exc
    if not isinstance(event.get_data(), dict):
        raise ValueError("the message is not a CloudEvent of ours: its data is not a JSON object")
    return event


def request_id(event):
    """The request id that caused the event, or None."""
    return event.get_extension(REQUEST_ID)
