"""kitapp: the smallest service built on servicekit, used to test the kit for real."""

from pathlib import Path

import servicekit
from flask import Flask

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_app(overrides=None):
    """The test application: settings from `overrides`, else from the environment (gunicorn)."""
    app = Flask("kitapp")
    app.config.from_mapping(servicekit.common_config("kitapp") if overrides is None else {})
    app.config.update(
        MIGRATIONS_DIR=MIGRATIONS_DIR,
        OIDC_AUDIENCE="enrs-api",
        EVENT_SOURCE="/enrs/kitapp",
        KAFKA_BOOTSTRAP_SERVERS=app.config.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
    )
    app.config.update(overrides or {})
    servicekit.init_app(app)

    from kitapp import api

    app.register_blueprint(api.bp)
    return app
