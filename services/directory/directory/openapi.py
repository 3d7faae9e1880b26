"""/openapi.json: the OpenAPI 3.1 description of the directory's JSON API (/api/v1).

The FHIR API (/fhir) is described by its own CapabilityStatement (/fhir/metadata).
"""

from flask import current_app
from servicekit.openapi import answer, blueprint, document, operation, query_parameters, ref

from directory import api

ADMIN = ("platform-admin",)
_RUN_FIELDS = {
    "id": "integer",
    "kind": "string",
    "file_name": "string",
    "status": "string",
    "bytes_total": "integer",
    "bytes_read": "integer",
    "progress": "number",
    "lines": "integer",
    "imported": "integer",
    "rejected": "integer",
    "warned": "integer",
    "created": "integer",
    "updated": "integer",
    "deactivated": "integer",
    "requested_by": "string",
    "requested_at": "string",
    "started_at": ["string", "null"],
    "finished_at": ["string", "null"],
    "error": ["string", "null"],
}
IMPORT_RUN = {
    "type": "object",
    "properties": {name: {"type": kind} for name, kind in _RUN_FIELDS.items()},
}
REJECTION = {
    "type": "object",
    "properties": {
        "line": {"type": "integer"},
        "column": {"type": ["string", "null"]},
        "reason": {"type": "string"},
        "severity": {"enum": ["error", "warning"]},
    },
}
UPLOAD = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        "kind": {"enum": ["ps", "mssante"], "description": "read from the header when absent"},
    },
    "additionalProperties": False,
}


def _page_of(name):
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": ref(name)},
            "total": {"type": "integer"},
        },
    }


def _paths():
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    missing = {"404": answer("No such import", ref("Error"))}
    return {
        "/api/v1/imports": {
            "post": operation(
                "Upload an extract (text or zip) and queue its import",
                {
                    "202": answer("Queued", ref("ImportRun")),
                    "413": answer("Larger than IMPORT_MAX_BYTES", ref("Error")),
                    "422": answer("Not a directory extract", ref("Error")),
                },
                body={"multipart/form-data": {"schema": ref("ImportUpload")}},
                roles=ADMIN,
            ),
            "get": operation(
                "Import runs, newest first",
                {"200": answer("A page of runs", _page_of("ImportRun"))},
                parameters=query_parameters(api.Page),
                roles=ADMIN,
            ),
        },
        "/api/v1/imports/{run_id}": {
            "get": operation(
                "One import run: progress and counts",
                {"200": answer("Run", ref("ImportRun")), **missing},
                parameters=[run_id],
                roles=ADMIN,
            )
        },
        "/api/v1/imports/{run_id}/rejections": {
            "get": operation(
                "Lines an import rejected or warned about",
                {"200": answer("A page of lines", _page_of("ImportRejection")), **missing},
                parameters=[run_id, *query_parameters(api.RejectionPage)],
                roles=ADMIN,
            )
        },
    }


def build():
    """The OpenAPI document of the directory's JSON API."""
    schemas = {"ImportRun": IMPORT_RUN, "ImportRejection": REJECTION, "ImportUpload": UPLOAD}
    return document("ENRS directory", current_app.config.get("ENRS_PUBLIC_URL"), _paths(), schemas)


bp = blueprint("directory_openapi", build)
