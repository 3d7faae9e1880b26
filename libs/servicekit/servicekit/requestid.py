"""The request id: taken from X-Request-ID when sane, else made; carried to logs and events."""

import re
import uuid

from flask import g, has_request_context, request

HEADER = "X-Request-ID"
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")


def _from_header():
    incoming = request.headers.get(HEADER, "")
    return incoming if _SAFE.match(incoming) else uuid.uuid4().hex


def current_request_id():
    """The id of the request being served, or None outside a request."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        g.request_id = _from_header()
    return g.request_id


def _echo(response):
    request_id = current_request_id()
    if request_id:
        response.headers[HEADER] = request_id
    return response


def init_app(app):
    """Echo the request id on every response."""
    app.after_request(_echo)
