"""The append-only audit log: every access to patient data and every admin action."""

from servicekit.models import AuditEntry
from servicekit.requestid import current_request_id

# The table, not the mapped class: an audit row is never read back in the request that writes
# it, so a Core INSERT skips the unit of work (no object tracked until the flush at commit).
_INSERT = AuditEntry.__table__.insert()


def record(
    session, actor, action, patient=None, purpose="care", outcome="ok", target=None, details=None
):
    """Write an audit entry in the caller's transaction: it commits or rolls back with it."""
    session.connection().execute(
        _INSERT,
        {
            "actor": actor,
            "action": action,
            "patient": patient,
            "target": target,
            "purpose": purpose,
            "outcome": outcome,
            "request_id": current_request_id(),
            "details": details or {},
        },
    )
