"""kitapp: the smallest service built on servicekit, used to test the kit for real."""

from pathlib import Path

import servicekit
from flask import Flask

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_app(overrides):
    """The test application; every setting comes from `overrides`."""
    app = Flask("kitapp")
    app.config.update(
        MIGRATIONS_DIR=MIGRATIONS_DIR,
        OIDC_AUDIENCE="enrs-api",
        EVENT_SOURCE="/enrs/kitapp",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        TESTING=True,
    )
    app.config.update(overrides)
    servicekit.init_app(app)

    from kitapp import api

    app.register_blueprint(api.bp)
    return app
