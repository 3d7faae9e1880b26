"""directory's JSON API (/api/v1): import runs for the portal's admin page."""

from flask import Blueprint

bp = Blueprint("directory_api", __name__, url_prefix="/api/v1")
