"""directory: practitioners, organisations, roles and mailboxes from the national extracts."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# servicekit.events.worker.JOBS, spelt out so that web processes do not load the Kafka client.
WORKER_JOBS = "servicekit.worker.jobs"


def create_app(overrides=None):
    """The directory web application; `overrides` replaces settings (tests)."""
    # Imported here: the import's reading processes load the extract package alone.
    import servicekit
    from flask import Flask

    app = Flask("directory")
    from directory import config

    app.config.from_mapping(config.load() if not (overrides or {}).get("SKIP_ENV") else {})
    app.config["MIGRATIONS_DIR"] = MIGRATIONS_DIR
    app.config.update(overrides or {})
    servicekit.init_app(app)

    from directory import api, cli, openapi
    from directory.imports import jobs

    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    cli.init_app(app)
    # The worker runs queued imports between its relay and consumer rounds.
    app.extensions.setdefault(WORKER_JOBS, []).append(jobs.run_queued)
    _register_fhir(app)
    return app


def _register_fhir(app):
    # The FHIR API lives in its own sub-package (`directory.fhir.init_app`), written alongside.
    import importlib
    import importlib.util

    if importlib.util.find_spec("directory.fhir") is None:
        return
    init_fhir = getattr(importlib.import_module("directory.fhir"), "init_app", None)
    if init_fhir is not None:
        init_fhir(app)
