"""Views that exercise the kit: auth, validation, errors, events and audit."""

from flask import Blueprint, g
from servicekit import audit, db
from servicekit.auth import require
from servicekit.events import emit
from servicekit.validation import CleanStr, Strict, json_body

from kitapp.models import Note

bp = Blueprint("kitapp", __name__, url_prefix="/api/v1")

CREATED = "fr.enrs.identity.user.created"


class NoteIn(Strict):
    text: CleanStr
    urgent: bool = False


@bp.get("/whoami")
@require()
def whoami():
    """The verified subject of the token."""
    return {"sub": g.claims["sub"]}


@bp.get("/patients/<patient>")
@require(roles=("clinician",))
def patient(patient):
    """Clinicians only; the access is audited."""
    audit.record(db.session(), g.claims["sub"], "patient.read", patient=patient)
    db.session().commit()
    return {"patient": patient}


@bp.get("/records")
@require(scopes=("records:read",))
def records():
    """Needs the records:read scope."""
    return {"records": []}


@bp.post("/notes")
@require()
def add_note():
    """Write a note and its event in one transaction."""
    body = json_body(NoteIn)
    note = _add(body.text, g.claims["sub"])
    db.session().commit()
    return {"id": note.id}, 201


@bp.post("/notes/broken")
@require()
def add_note_then_fail():
    """Writes a note and its event, then fails: nothing may be kept."""
    _add("lost", g.claims["sub"])
    db.session().flush()
    raise RuntimeError("a bug after the write")


def _add(text, author):
    session = db.session()
    note = Note(text=text, author=author)
    session.add(note)
    session.flush()
    emit(session, CREATED, str(note.id), {"user_id": str(note.id), "username": text})
    return note
