"""Events: `emit` writes to the outbox in the caller's transaction; the worker does the rest.

Web processes never talk to Kafka. The worker (`flask --app <pkg> worker`) relays outbox rows to
Kafka as CloudEvents (binary mode) and runs the handlers registered with `handles`.
`emit_many` queues a batch of events of one type with a single INSERT; `event_row` is the row
`emit` writes, for writing it together with other rows (`servicekit.rows.insert_rows`);
`emit_per_row` has the database build one event per row a query selects (a bulk import's
"created" events).
"""

from servicekit.events.outbox import ROW_ID, emit, emit_many, emit_per_row, event_row
from servicekit.events.registry import handles

__all__ = ["ROW_ID", "emit", "emit_many", "emit_per_row", "event_row", "handles"]
