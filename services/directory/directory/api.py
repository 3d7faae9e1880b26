"""directory's JSON API under /api/v1: import runs of national extracts (platform-admin)."""

import uuid
from pathlib import Path
from typing import Annotated, Literal

import sqlalchemy as sa
from flask import Blueprint, current_app, g, request
from pydantic import Field
from servicekit import audit, db
from servicekit.auth import require
from servicekit.errors import ServiceError
from servicekit.validation import Strict, parse, query_args
from werkzeug.utils import secure_filename

from directory.extract import ExtractError
from directory.imports import FORMATS, jobs
from directory.models import ImportRejection, ImportRun

bp = Blueprint("directory_api", __name__, url_prefix="/api/v1")

ADMIN = ("platform-admin",)
UPLOAD_SUFFIXES = (".txt", ".csv", ".zip")


class Page(Strict):
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    limit: Annotated[int, Field(ge=1, le=500)] = 50


class RejectionPage(Page):
    severity: Literal["error", "warning"] | None = None


class UploadForm(Strict):
    kind: Literal[tuple(FORMATS)] | None = None


def _iso(value):
    return value.isoformat() if value else None


def run_json(run: ImportRun) -> dict:
    """An import run as the API shows it (never the path it is stored at)."""
    return {
        "id": run.id,
        "kind": run.kind,
        "file_name": run.file_name,
        "status": run.status,
        "bytes_total": run.bytes_total,
        "bytes_read": run.bytes_read,
        "progress": round(run.bytes_read / run.bytes_total, 4) if run.bytes_total else 0.0,
        "lines": run.lines,
        "imported": run.imported,
        "rejected": run.rejected,
        "warned": run.warned,
        "created": run.created,
        "updated": run.updated,
        "deactivated": run.deactivated,
        "requested_by": run.requested_by,
        "requested_at": _iso(run.requested_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "error": run.error,
    }


def rejection_json(row: ImportRejection) -> dict:
    return {"line": row.line, "column": row.column, "reason": row.reason, "severity": row.severity}


@bp.post("/imports")
@require(roles=ADMIN)
def create_import():
    """Upload an extract (file or zip) and queue its import; 202 with the queued run."""
    # Extracts are far larger than ordinary request bodies: this route has its own limit.
    request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]
    form = parse(UploadForm, request.form.to_dict())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ServiceError("A file is required (multipart field 'file').", 400)
    name = secure_filename(upload.filename)
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise ServiceError("The file must be a .txt, .csv or .zip extract.", 400)
    path = _store(upload, name)
    kind = form.kind or _detected_kind(path)
    session = db.session()
    run = jobs.queue(session, kind, name, str(path), g.claims["sub"])
    audit.record(session, g.claims["sub"], "directory.import.requested", target=f"import:{run.id}")
    session.commit()
    return run_json(run), 202


def _store(upload, name: str) -> Path:
    folder = Path(current_app.config["IMPORT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}-{name}"
    upload.save(path)
    return path.resolve()


def _detected_kind(path: Path) -> str:
    try:
        return jobs.detect_kind(path)
    except ExtractError as exc:
        path.unlink(missing_ok=True)
        raise ServiceError(f"The file is not a directory extract: {exc}", 422) from exc


@bp.get("/imports")
@require(roles=ADMIN)
def list_imports():
    """Import runs, newest first, with progress and counts."""
    page = query_args(Page)
    session = db.session()
    runs = session.scalars(
        sa.select(ImportRun).order_by(ImportRun.id.desc()).offset(page.offset).limit(page.limit)
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(ImportRun))
    return {"items": [run_json(run) for run in runs], "total": total}


@bp.get("/imports/<int:run_id>")
@require(roles=ADMIN)
def get_import(run_id: int):
    """One import run: its progress and counts."""
    return run_json(_run_or_404(run_id))


@bp.get("/imports/<int:run_id>/rejections")
@require(roles=ADMIN)
def list_rejections(run_id: int):
    """The lines an import rejected (and, with severity=warning, the ones it warned about)."""
    page = query_args(RejectionPage)
    _run_or_404(run_id)
    where = [ImportRejection.run_id == run_id]
    if page.severity:
        where.append(ImportRejection.severity == page.severity)
    session = db.session()
    rows = session.scalars(
        sa.select(ImportRejection)
        .where(*where)
        .order_by(ImportRejection.line, ImportRejection.id)
        .offset(page.offset)
        .limit(page.limit)
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(ImportRejection).where(*where))
    return {"items": [rejection_json(row) for row in rows], "total": total}


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session().get(ImportRun, run_id)
    if run is None:
        raise ServiceError("No such import.", 404)
    return run
