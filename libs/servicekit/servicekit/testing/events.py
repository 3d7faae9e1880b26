"""Handler tests without a broker: CloudEvents like the relay's, delivered like the worker."""

from servicekit import db
from servicekit.events import codec
from servicekit.events.consumer import handle_event
from servicekit.events.registry import handlers_by_type
from servicekit.models import OutboxEvent, new_event_id, utcnow
from servicekit.topics import event_type


def make_event(type, subject, data, key=None, source=None, request_id=None, event_id=None):
    """The CloudEvent a producer's relay would send for this event (type from the catalogue)."""
    catalogued = event_type(type)
    row = OutboxEvent(
        event_id=event_id or new_event_id(),
        topic=catalogued.topic,
        type=type,
        source=source or f"/enrs/{catalogued.service}",
        subject=subject,
        key=key or subject,
        data=data,
        request_id=request_id,
        created_at=utcnow(),
    )
    return codec.to_event(row)


def deliver(app, event):
    """Handle event as the app's worker would: its package's handlers, once per event id.

    True when handlers ran, False when the event was skipped (no handler, or already processed).
    """
    package = app.import_name.split(".")[0]
    return handle_event(db.database(app), handlers_by_type(package), app.name, event)
