"""FHIR views: read, search and metadata, every one behind a professional's access token.

Directory entries are public professional data, not patient data: no per-patient audit here.
Errors inside /fhir are OperationOutcome documents, never the JSON error shape of /api.
"""

import json

from flask import Response, current_app, request
from servicekit import db
from servicekit.auth import require
from servicekit.errors import ServiceError
from werkzeug.exceptions import HTTPException, NotFound

from directory.fhir import bp, documents, query, spec
from directory.fhir.params import SearchError, parse_search

FHIR_JSON = "application/fhir+json"
PROFESSIONAL_ROLES = (
    "platform-admin",
    "clinician",
    "stroke-requester",
    "stroke-neurologist",
    "rcp-member",
    "rcp-coordinator",
)
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
}


def fhir_response(document, status=200, headers=None):
    """A FHIR JSON response."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype=FHIR_JSON, headers=headers)


def base_url():
    """The FHIR base: under ENRS_PUBLIC_URL when set (behind a proxy), else as reached."""
    public = current_app.config.get("ENRS_PUBLIC_URL") or request.host_url
    return public.rstrip("/") + bp.url_prefix


@bp.get("/metadata")
@require(roles=PROFESSIONAL_ROLES)
def metadata():
    """The CapabilityStatement."""
    return fhir_response(documents.capability_statement(base_url()))


@bp.get("/<resource_type>")
@require(roles=PROFESSIONAL_ROLES)
def search(resource_type):
    """Search one resource type: a searchset Bundle."""
    _supported(resource_type)
    parsed = parse_search(resource_type, request.args.items(multi=True))
    page = query.search(db.session(), parsed)
    return fhir_response(documents.searchset(base_url(), parsed, page))


@bp.get("/<resource_type>/<logical_id>")
@require(roles=PROFESSIONAL_ROLES)
def read(resource_type, logical_id):
    """Read one resource by its id."""
    _supported(resource_type)
    resource = query.read(db.session(), resource_type, logical_id)
    if resource is None:
        raise NotFound(f"{resource_type}/{logical_id} is not known.")
    return fhir_response(resource)


@bp.route("/", methods=["POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:_path>", methods=["POST", "PUT", "PATCH", "DELETE"])
def read_only(_path=None):
    """The directory is fed by the national extracts only: no FHIR write."""
    outcome = documents.outcome("This FHIR API is read-only.", code="not-supported")
    return fhir_response(outcome, 405, {"Allow": "GET, HEAD"})


def _supported(resource_type):
    if resource_type not in spec.RESOURCE_TYPES:
        supported = ", ".join(spec.RESOURCE_TYPES)
        raise NotFound(f"The resource type '{resource_type}' is not supported here ({supported}).")


@bp.errorhandler(SearchError)
def _search_error(exc):
    return fhir_response(documents.outcome(str(exc)), 400)


@bp.errorhandler(ServiceError)
def _service_error(exc):
    code = _ISSUE_CODES.get(exc.status, "processing")
    return fhir_response(documents.outcome(exc.message, code=code), exc.status, exc.headers)


@bp.errorhandler(HTTPException)
def _http_error(exc):
    status = exc.code or 500
    code = _ISSUE_CODES.get(status, "processing")
    return fhir_response(documents.outcome(exc.description or exc.name, code=code), status)
