"""/healthz (the process answers) and /readyz (database reachable, migrations applied)."""

import logging

from flask import Blueprint, current_app

from servicekit import db, migrations

log = logging.getLogger(__name__)
bp = Blueprint("servicekit_health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the process serves requests; no dependency is checked."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers and its schema is at the latest migration."""
    checks = {}
    try:
        db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("database not reachable", extra={"error": type(exc).__name__})
        checks["database"] = "unreachable"
    if checks["database"] == "ok" and current_app.config.get("MIGRATIONS_DIR"):
        state = migrations.schema_state(current_app)
        checks["migrations"] = "ok" if state == "current" else state
    # A schema migrated ahead by a newer release still serves this one (expand/contract).
    ready = all(value in ("ok", "ahead") for value in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
