"""One JSON error shape for every non-FHIR API: {"error": "<sentence>", "details": {...}}."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    400: "The request is malformed.",
    401: "Authentication is required.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    409: "This conflicts with the current state.",
    413: "The request body is too large.",
    415: "The request body must be JSON.",
    422: "The request breaks a rule.",
    429: "Too many requests; try again later.",
}


class ServiceError(Exception):
    """An error the caller can fix, answered as JSON with its HTTP status."""

    def __init__(self, message, status=422, details=None, headers=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details or {}
        self.headers = headers or {}


def error_response(message, status, details=None, headers=None):
    """The JSON error response every API uses."""
    response = jsonify({"error": message, "details": details or {}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_service_error(exc):
    return error_response(exc.message, exc.status, exc.details, exc.headers)


def _handle_http_exception(exc):
    status = exc.code or 500
    message = _HTTP_MESSAGES.get(status, exc.description or exc.name)
    if status in (400, 404, 405) and exc.description and not exc.description.startswith("The "):
        message = exc.description
    headers = dict(exc.get_headers()) if status == 405 else {}
    headers.pop("Content-Type", None)
    return error_response(message, status, headers=headers)


def _handle_unexpected(exc):
    from servicekit import db

    db.rollback_quietly()
    log.exception("unhandled error")
    return error_response("An internal error occurred; it has been logged.", 500)


def init_app(app):
    """Register the JSON error handlers, unless the app renders HTML errors itself."""
    app.register_error_handler(ServiceError, _handle_service_error)
    if app.config.get("SERVICEKIT_JSON_ERRORS", True):
        app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
