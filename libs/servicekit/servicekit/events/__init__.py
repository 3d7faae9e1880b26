"""Events: `emit` writes to the outbox in the caller's transaction; the worker does the rest.

Web processes never talk to Kafka. The worker (`flask --app <pkg> worker`) relays outbox rows to
Kafka as CloudEvents (binary mode) and runs the handlers registered with `handles`.
"""

from servicekit.events.outbox import emit
from servicekit.events.registry import handles

__all__ = ["emit", "handles"]
