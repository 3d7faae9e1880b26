"""The directory's FHIR R4 API under /fhir, modelled on the national Annuaire Santé FHIR API.

- Read `GET /fhir/<Type>/<id>` and search `GET /fhir/<Type>?...` on Practitioner,
  PractitionerRole and Organization; `GET /fhir/metadata` is the CapabilityStatement, built from
  the same table (`spec`) that drives the parser, so it lists exactly what is accepted.
- Search Bundles carry `total` unless `_total=none` (`estimate` counts exactly too), `self`,
  `first`, `previous` and `next` links; pages are `_count` long (20 by default; a larger ask
  than 100 gets 100) and start at `_offset` (10,000 at most: deeper, narrow the search).
- An unknown parameter, modifier, `_include` or a malformed value is a 400 OperationOutcome;
  an unknown id or resource type a 404 OperationOutcome.
- Identifier, code and mailbox representations: see `spec`.
- Every call needs an access token with a professional role; directory entries are not patient
  data, so reads are not written to the audit log.
"""

from flask import Blueprint

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


def init_app(app):
    """Register the FHIR blueprint."""
    from directory.fhir import views  # noqa: F401 - registers the routes on bp

    app.register_blueprint(bp)
