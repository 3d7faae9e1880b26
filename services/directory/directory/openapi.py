"""/openapi.json: the OpenAPI 3.1 description of the directory's JSON API (/api/v1).

The FHIR API (/fhir) is described by its own CapabilityStatement (/fhir/metadata).
"""

from flask import Blueprint, current_app

from directory import api

bp = Blueprint("directory_openapi", __name__)

ERROR = {
    "type": "object",
    "required": ["error", "details"],
    "properties": {"error": {"type": "string"}, "details": {"type": "object"}},
}
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


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description, schema=None):
    answer = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _page_of(name):
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": _ref(name)},
            "total": {"type": "integer"},
        },
    }


def _operation(summary, answers, parameters=(), body=None):
    errors = {
        "400": _answer("Invalid input", _ref("Error")),
        "401": _answer("No valid access token", _ref("Error")),
        "403": _answer("The token lacks the platform-admin role", _ref("Error")),
    }
    operation = {"summary": summary, "responses": {**answers, **errors}}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    return operation


def _query(model):
    return [
        {"name": name, "in": "query", "schema": schema}
        for name, schema in model.model_json_schema()["properties"].items()
    ]


def _paths():
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    missing = {"404": _answer("No such import", _ref("Error"))}
    return {
        "/api/v1/imports": {
            "post": _operation(
                "Upload an extract (text or zip) and queue its import",
                {
                    "202": _answer("Queued", _ref("ImportRun")),
                    "413": _answer("Larger than IMPORT_MAX_BYTES", _ref("Error")),
                    "422": _answer("Not a directory extract", _ref("Error")),
                },
                body={"multipart/form-data": {"schema": _ref("ImportUpload")}},
            ),
            "get": _operation(
                "Import runs, newest first",
                {"200": _answer("A page of runs", _page_of("ImportRun"))},
                _query(api.Page),
            ),
        },
        "/api/v1/imports/{run_id}": {
            "get": _operation(
                "One import run: progress and counts",
                {"200": _answer("Run", _ref("ImportRun")), **missing},
                [run_id],
            )
        },
        "/api/v1/imports/{run_id}/rejections": {
            "get": _operation(
                "Lines an import rejected or warned about",
                {"200": _answer("A page of lines", _page_of("ImportRejection")), **missing},
                [run_id, *_query(api.RejectionPage)],
            )
        },
    }


def document():
    """The OpenAPI document of the directory's JSON API."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "ENRS directory", "version": "1"},
        "servers": [{"url": current_app.config.get("ENRS_PUBLIC_URL") or ""}],
        "paths": _paths(),
        "components": {
            "schemas": {
                "Error": ERROR,
                "ImportRun": IMPORT_RUN,
                "ImportRejection": REJECTION,
                "ImportUpload": UPLOAD,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
    }


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of /api/v1."""
    return document()
