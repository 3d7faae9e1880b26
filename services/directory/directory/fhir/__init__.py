"""The directory's FHIR R4 API under /fhir, modelled on the national Annuaire Santé FHIR API."""

from flask import Blueprint

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def init_app(app):
    """Register the FHIR blueprint."""
    from directory.fhir import views  # noqa: F401 - registers the routes on bp

    app.register_blueprint(bp)
