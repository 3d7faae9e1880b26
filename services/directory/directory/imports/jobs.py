"""Import jobs: queue a run, let the worker claim and run queued ones one at a time."""

import logging

import sqlalchemy as sa
from flask import current_app
from servicekit import db
from servicekit.models import utcnow

from directory.extract.reader import open_source, read_header
from directory.imports import staging
from directory.imports.runner import FORMATS, ImportFailed, run_import
from directory.models import ImportRun

log = logging.getLogger(__name__)
KINDS = {fmt.name: kind for kind, fmt in FORMATS.items()}


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


def claim_next(session) -> ImportRun | None:
    """Take the oldest queued run, if any; the UPDATE must hit exactly one row to win it."""
    run_id = session.scalar(
        sa.select(ImportRun.id).where(ImportRun.status == "queued").order_by(ImportRun.id)
    )
    if run_id is None:
        return None
    claimed = session.execute(
        sa.update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status == "queued")
        .values(status="running")
    )
    session.commit()
    return session.get(ImportRun, run_id) if claimed.rowcount == 1 else None


def run_queued(app=None) -> int:
    """Worker job: run the oldest queued import, if any; how many runs were processed."""
    app = app or current_app
    with db.sessions(app) as session:
        run = claim_next(session)
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
