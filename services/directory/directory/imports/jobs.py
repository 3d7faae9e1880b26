"""Import jobs: queue a run, let the worker claim and run queued ones one at a time.

A running import beats a heartbeat at every batch it commits. A run whose heartbeat stopped
longer than the lease ago was abandoned by a worker that died (killed, out of memory, machine
lost): it is queued again and starts over — the difference it applies is computed afresh, so
what the dead worker already applied is seen as unchanged and emits nothing twice. A run
abandoned MAX_ATTEMPTS times is failed instead, so that a file that kills its worker does not
kill every worker after it.
"""

import datetime as dt
import logging

import sqlalchemy as sa
from flask import current_app
from servicekit import db
from servicekit.models import utcnow

from directory.extract.batches import FORMATS
from directory.extract.reader import open_source, read_header
from directory.imports import staging
from directory.imports.runner import ImportFailed, run_import
from directory.models import ImportRun

log = logging.getLogger(__name__)
KINDS = {fmt.name: kind for kind, fmt in FORMATS.items()}
LEASE_SECONDS = 600
MAX_ATTEMPTS = 2
ABANDONED = "interrompu : le traitement de l’import s’est arrêté {attempts} fois"


def detect_kind(path) -> str:
    """'ps' or 'mssante', from the extract's header; ExtractError when it is neither."""
    with open_source(path) as (stream, _size):
        header = read_header(stream.readline())
    return KINDS[header.fmt.name]


def queue(session, kind: str, file_name: str, path: str, requested_by: str) -> ImportRun:
    """A new queued run for a file already stored at path."""
    run = ImportRun(
        kind=kind, file_name=file_name, path=path, status="queued", requested_by=requested_by
    )
    session.add(run)
    session.flush()
    return run


def claim_next(session, lease_seconds: int = LEASE_SECONDS) -> ImportRun | None:
    """Take the oldest queued run, if any; the UPDATE must hit exactly one row to win it."""
    recover_abandoned(session, lease_seconds)
    run_id = session.scalar(
        sa.select(ImportRun.id).where(ImportRun.status == "queued").order_by(ImportRun.id)
    )
    if run_id is None:
        return None
    claimed = session.execute(
        sa.update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status == "queued")
        .values(status="running", heartbeat_at=utcnow(), attempts=ImportRun.attempts + 1)
    )
    session.commit()
    return session.get(ImportRun, run_id) if claimed.rowcount == 1 else None


def recover_abandoned(session, lease_seconds: int = LEASE_SECONDS) -> list[int]:
    """Queue again (or fail, after MAX_ATTEMPTS) the running imports whose heartbeat stopped."""
    deadline = utcnow() - dt.timedelta(seconds=lease_seconds)
    last_beat = sa.func.coalesce(
        ImportRun.heartbeat_at, ImportRun.started_at, ImportRun.requested_at
    )
    stale = (ImportRun.status == "running", last_beat < deadline)
    abandoned = session.execute(sa.select(ImportRun.id, ImportRun.attempts).where(*stale)).all()
    recovered = []
    for run_id, attempts in abandoned:
        values = {"status": "queued", "heartbeat_at": None}
        if attempts >= MAX_ATTEMPTS:
            error = ABANDONED.format(attempts=attempts)
            values = {"status": "failed", "finished_at": utcnow(), "error": error}
        # The same conditions again: a worker that was only slow and beat meanwhile keeps its run
        # (and its staged rows).
        moved = session.execute(
            sa.update(ImportRun).where(ImportRun.id == run_id, *stale).values(**values)
        )
        if moved.rowcount == 1:
            staging.clear(session, run_id)
            recovered.append(run_id)
            log.warning(
                "abandoned directory import recovered",
                extra={"run_id": run_id, "attempts": attempts, "status": values["status"]},
            )
        session.commit()
    return recovered


def run_queued(app=None) -> int:
    """Worker job: run the oldest queued import, if any; how many runs were processed."""
    app = app or current_app
    with db.sessions(app) as session:
        run = claim_next(session, app.config.get("IMPORT_LEASE_SECONDS", LEASE_SECONDS))
        if run is None:
            return 0
        run_id = run.id
        try:
            run_import(session, run, app.config.get("IMPORT_BATCH_SIZE", 2000))
        except ImportFailed:
            log.warning("queued import failed", extra={"run_id": run_id})
        except Exception as exc:
            # Not left "running" forever: marked failed, then the worker exits and restarts.
            session.rollback()
            _mark_failed(app, run_id, exc)
            raise
        return 1


def _mark_failed(app, run_id: int, exc: Exception) -> None:
    with db.sessions(app) as session:
        staging.clear(session, run_id)
        session.execute(
            sa.update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(status="failed", finished_at=utcnow(), error=type(exc).__name__)
        )
