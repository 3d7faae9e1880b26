"""The append-only audit log: every access to patient data and every admin action."""

from servicekit.models import AuditEntry
from servicekit.requestid import current_request_id


def record(
    session, actor, action, patient=None, purpose="care", outcome="ok", target=None, details=None
):
    """Add an audit entry to the caller's transaction; it commits or rolls back with the change."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        patient=patient,
        target=target,
        purpose=purpose,
        outcome=outcome,
        request_id=current_request_id(),
        details=details or {},
    )
    session.add(entry)
    return entry
