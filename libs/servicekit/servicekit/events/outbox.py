"""The outbox: an event is a row written in the same transaction as the change it describes."""

from flask import current_app, has_app_context

from servicekit.models import OutboxEvent, new_event_id
from servicekit.requestid import current_request_id
from servicekit.topics import event_type


def _source():
    if has_app_context():
        return current_app.config.get("EVENT_SOURCE") or f"/enrs/{current_app.name}"
    return "/enrs"


def emit(session, type, subject, data, key=None):
    """Queue an event: an outbox row added to session, sent by the worker after commit."""
    catalogued = event_type(type)
    row = OutboxEvent(
        event_id=new_event_id(),
        topic=catalogued.topic,
        type=type,
        source=_source(),
        subject=subject,
        key=key or subject,
        data=data,
        request_id=current_request_id(),
    )
    session.add(row)
    return row
