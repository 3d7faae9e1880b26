"""The directory pages: search of professionals, their pages, and the imports (platform-admin).

Everything is read from the directory's FHIR API with the user's access token; the pages show
only what a FHIR resource of the Annuaire Santé profile carries.
"""

import re
from typing import Annotated

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import Field, StringConstraints, ValidationError
from servicekit.validation import CleanStr, Strict

from portal.admin import admin_required
from portal.backends import ApiError, service_api
from portal.views import login_required

bp = Blueprint("directory", __name__, url_prefix="/annuaire")
SETTING = "DIRECTORY_URL"
PAGE_SIZE = 20
MAX_PAGE = 500  # the directory pages up to an offset of 10,000
REJECTIONS_PAGE = 50
IMPORT_MAX_BYTES = 2 * 1024**3
RUNNING = ("queued", "running")
REFRESH_SECONDS = 3
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
POSTCODE = re.compile(r"\d{1,5}")
INCLUDES = ["PractitionerRole:practitioner", "PractitionerRole:organization"]
RPPS = "https://rpps.esante.gouv.fr"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
FINESS = "http://finess.esante.gouv.fr"
SIRET = "https://sirene.fr"
IDENTIFIER_LABELS = {RPPS: "RPPS", IDNPS: "ADELI / IDNPS", FINESS: "FINESS", SIRET: "SIRET"}
MSSANTE = "MSSANTE"


class Criteria(Strict):
    nom: Annotated[CleanStr, StringConstraints(max_length=100)] = ""
    filtre: Annotated[str, StringConstraints(pattern=r"^([ps]-[A-Za-z0-9_]{1,20})?$")] = ""
    lieu: Annotated[CleanStr, StringConstraints(max_length=60)] = ""
    page: int = Field(default=1, ge=1, le=MAX_PAGE)

    def empty(self):
        """True when nothing was asked yet."""
        return not (self.nom or self.filtre or self.lieu)

    def args(self, page):
        """The query string of this search at another page."""
        return {"nom": self.nom, "filtre": self.filtre, "lieu": self.lieu, "page": page}


@bp.record_once
def _large_uploads(state):
    # Extracts are far larger than the portal's ordinary request bodies, and the CSRF check reads
    # the form before any view runs: the upload's own limit must be set ahead of every hook.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _upload_limit)


def _upload_limit():
    if request.endpoint == "directory.upload":
        request.max_content_length = IMPORT_MAX_BYTES


def _criteria():
    try:
        return Criteria.model_validate(request.args.to_dict()), None
    except ValidationError:
        return Criteria(), _("Les critères de recherche ne sont pas valides.")


def fhir(path, params=None):
    """A FHIR resource or Bundle from the directory."""
    return service_api(SETTING, "GET", "/fhir" + path, params=params)


@bp.get("")
@login_required
def search():
    """The search page; it works without JavaScript, the static script refreshes the list."""
    criteria, error = _criteria()
    results = _results(criteria, error)
    return render_template("directory/search.html", criteria=criteria, **results)


@bp.get("/resultats")
@login_required
def results():
    """The list of results alone, fetched by the search page's script as the user types."""
    criteria, error = _criteria()
    return render_template(
        "directory/_results.html", criteria=criteria, **_results(criteria, error)
    )


def _results(criteria, error):
    if error or criteria.empty():
        return {"rows": [], "total": None, "has_next": False, "error": error}
    try:
        bundle, rows = _search(criteria)
    except ApiError as exc:
        return {"rows": [], "total": None, "has_next": False, "error": unavailable(exc)}
    has_next = any(link.get("relation") == "next" for link in bundle.get("link", []))
    return {"rows": rows, "total": bundle.get("total"), "has_next": has_next, "error": None}


def unavailable(exc):
    """The French sentence for a failed directory call."""
    if exc.status in (502, 503, 504):
        return _("L’annuaire est momentanément indisponible ; réessayez plus tard.")
    return exc.french()


def _search(criteria):
    """The directory search that serves the criteria, and its rows for the page.

    A profession or speciality, or a name with a place, is a search of activities
    (PractitionerRole) whose chained parameters carry the name and the place, so the directory
    combines every criterion before paging; a name alone searches practitioners, a place alone
    organisations.
    """
    paging = {"_count": PAGE_SIZE, "_offset": (criteria.page - 1) * PAGE_SIZE}
    if criteria.filtre or (criteria.nom and criteria.lieu):
        bundle = fhir("/PractitionerRole", {**_activity_criteria(criteria), **paging})
        return bundle, activity_rows(bundle)
    if criteria.nom:
        params = {"name": criteria.nom, "_revinclude": "PractitionerRole:practitioner", **paging}
        bundle = fhir("/Practitioner", params)
        return bundle, practitioner_rows(bundle)
    bundle = fhir("/Organization", {_place_parameter(criteria.lieu): criteria.lieu, **paging})
    return bundle, [{"organization": organisation(entry)} for entry in matches(bundle)]


def _activity_criteria(criteria) -> dict:
    """The PractitionerRole parameters of a search by profession, speciality, name and place."""
    params: dict = {"_include": INCLUDES}
    if criteria.filtre:
        kind, code = criteria.filtre.split("-", 1)
        params["role" if kind == "p" else "specialty"] = code
    if criteria.nom:
        params["practitioner.name"] = criteria.nom
    if criteria.lieu:
        params["organization." + _place_parameter(criteria.lieu)] = criteria.lieu
    return params


def _place_parameter(place: str) -> str:
    return "address-postalcode" if POSTCODE.fullmatch(place) else "address-city"


def matches(bundle):
    """The resources a search matched (not the included ones)."""
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry.get("search", {}).get("mode", "match") == "match"
    ]


def included(bundle):
    """The included resources of a Bundle, by "Type/id"."""
    return {
        f"{entry['resource']['resourceType']}/{entry['resource']['id']}": entry["resource"]
        for entry in bundle.get("entry", [])
        if entry.get("search", {}).get("mode") == "include"
    }


def activity_rows(bundle):
    """One row per PractitionerRole: the activity, its practitioner and its organisation."""
    others = included(bundle)
    rows = []
    for role in matches(bundle):
        practitioner = others.get(role.get("practitioner", {}).get("reference", ""))
        organization = others.get(role.get("organization", {}).get("reference", ""))
        rows.append(
            {
                "activity": activity(role),
                "practitioner": person(practitioner) if practitioner else None,
                "organization": organisation(organization) if organization else None,
            }
        )
    return [row for row in rows if row["practitioner"]]


def practitioner_rows(bundle):
    """One row per Practitioner, with the professions and specialities of its activities."""
    labels = {}
    for role in included(bundle).values():
        owner = role.get("practitioner", {}).get("reference", "").removeprefix("Practitioner/")
        known = labels.setdefault(owner, [])
        known += [label for label in activity(role)["labels"] if label not in known]
    return [
        {"practitioner": person(item), "activity": {"labels": labels.get(item["id"], [])}}
        for item in matches(bundle)
    ]


def person(resource):
    """What the pages show of a Practitioner."""
    name = (resource.get("name") or [{}])[0]
    parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
    return {
        "id": resource["id"],
        "name": " ".join(part for part in parts if part),
        "active": resource.get("active", True),
        "identifiers": identifiers(resource),
        "mailboxes": mailboxes(resource),
    }


def organisation(resource):
    """What the pages show of an Organization."""
    address = (resource.get("address") or [{}])[0]
    return {
        "id": resource["id"],
        "name": resource.get("name", ""),
        "active": resource.get("active", True),
        "identifiers": identifiers(resource),
        "lines": address.get("line", []),
        "postcode": address.get("postalCode", ""),
        "city": address.get("city", ""),
        "phones": [t["value"] for t in resource.get("telecom", []) if t.get("system") == "phone"],
        "mailboxes": mailboxes(resource),
    }


def activity(role):
    """What the pages show of a PractitionerRole."""
    labels = [
        coding.get("display") or coding.get("code", "")
        for concept in [*role.get("code", []), *role.get("specialty", [])]
        for coding in concept.get("coding", [])[:1]
    ]
    return {"id": role["id"], "labels": labels, "mailboxes": mailboxes(role)}


def identifiers(resource):
    """(label, value) of the identifiers the pages name."""
    return [
        (IDENTIFIER_LABELS[item["system"]], item.get("value", ""))
        for item in resource.get("identifier", [])
        if item.get("system") in IDENTIFIER_LABELS
    ]


def mailboxes(resource):
    """The MSSanté addresses among a resource's contact points."""
    return [
        point["value"]
        for point in resource.get("telecom", [])
        if point.get("system") == "email" and _is_mssante(point)
    ]


def _is_mssante(point):
    return any(
        extension.get("valueCoding", {}).get("code") == MSSANTE
        for extension in point.get("extension", [])
    )


def fhir_id(value):
    """A logical id safe to put in the directory's path."""
    if not FHIR_ID.fullmatch(value):
        abort(404)
    return value


@bp.get("/professionnels/<practitioner_id>")
@login_required
def practitioner(practitioner_id):
    """A practitioner: identifiers, activities with their organisations, MSSanté addresses."""
    practitioner_id = fhir_id(practitioner_id)
    try:
        resource = fhir(f"/Practitioner/{practitioner_id}")
        params = {"practitioner": practitioner_id, "_include": INCLUDES, "_count": 100}
        rows = activity_rows(fhir("/PractitionerRole", params))
    except ApiError as exc:
        return _failed(exc)
    return render_template("directory/practitioner.html", person=person(resource), rows=rows)


@bp.get("/structures/<organization_id>")
@login_required
def organization(organization_id):
    """An organisation: identifiers, address, and the practitioners working there."""
    organization_id = fhir_id(organization_id)
    try:
        resource = fhir(f"/Organization/{organization_id}")
        params = {"organization": organization_id, "_include": INCLUDES, "_count": 100}
        rows = activity_rows(fhir("/PractitionerRole", params))
    except ApiError as exc:
        return _failed(exc)
    return render_template("directory/organization.html", place=organisation(resource), rows=rows)


def _failed(exc):
    status = 404 if exc.status == 404 else 502
    return render_template("directory/unavailable.html", error=unavailable(exc)), status


@bp.get("/imports")
@admin_required
def imports():
    """The import runs, newest first, and the upload form."""
    try:
        runs = service_api(SETTING, "GET", "/api/v1/imports", params={"limit": 50})
    except ApiError as exc:
        return render_template("directory/imports.html", runs=None, error=unavailable(exc)), 502
    return render_template("directory/imports.html", runs=runs, error=None)


@bp.post("/imports")
@admin_required
def upload():
    """Forward an uploaded extract to the directory, which queues its import."""
    extract = request.files.get("fichier")
    if extract is None or not extract.filename:
        flash(_("Choisissez un fichier d’extraction."), "error")
        return redirect(url_for("directory.imports"))
    files = {"file": (extract.filename, extract.stream, "application/octet-stream")}
    try:
        run = service_api(SETTING, "POST", "/api/v1/imports", files=files)
    except ApiError as exc:
        flash(_upload_error(exc), "error")
        return redirect(url_for("directory.imports"))
    flash(_("Le fichier est reçu ; son import est en file d’attente."), "success")
    return redirect(url_for("directory.run", run_id=run["id"]))


def _upload_error(exc):
    if exc.status in (400, 422):
        return _("Ce fichier n’est pas une extraction de l’annuaire (.txt, .csv ou .zip).")
    return unavailable(exc)


@bp.get("/imports/<int:run_id>")
@admin_required
def run(run_id):
    """One import: live progress while it runs, then its counts and rejected lines."""
    offset = request.args.get("decalage", 0, type=int) or 0
    offset = min(max(offset, 0), 10_000_000)
    try:
        details = service_api(SETTING, "GET", f"/api/v1/imports/{run_id}")
        params = {"offset": offset, "limit": REJECTIONS_PAGE}
        rejections = service_api(
            SETTING, "GET", f"/api/v1/imports/{run_id}/rejections", params=params
        )
    except ApiError as exc:
        return _failed(exc)
    running = details["status"] in RUNNING
    page = render_template(
        "directory/run.html",
        run=details,
        running=running,
        rejections=rejections,
        offset=offset,
        page_size=REJECTIONS_PAGE,
    )
    # The browser reloads the page while the import runs: live progress without any script.
    return (page, 200, {"Refresh": str(REFRESH_SECONDS)}) if running else page
