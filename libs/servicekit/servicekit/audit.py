"""The append-only audit log: every access to patient data and every admin action."""

from servicekit import bulk
from servicekit.models import AuditEntry, utcnow
from servicekit.requestid import current_request_id


def record(
    session, actor, action, patient=None, purpose="care", outcome="ok", target=None, details=None
):
    """Write an audit entry in the caller's transaction: it commits or rolls back with it.

    An INSERT of the table, not an object of the mapped class: an audit row is never read back
    in the request that writes it, so no object is tracked until the flush at commit.
    """
    bulk.insert_one(session, *entry(actor, action, patient, purpose, outcome, target, details))


def entry(actor, action, patient=None, purpose="care", outcome="ok", target=None, details=None):
    """The row `record` writes, as (table, values): to write with other rows at once.

    For `servicekit.rows.insert_rows`, which writes one row per table in one statement.
    """
    values = {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "patient": patient,
        "target": target,
        "purpose": purpose,
        "outcome": outcome,
        "request_id": current_request_id(),
        "details": details or {},
    }
    return AuditEntry.__table__, values
