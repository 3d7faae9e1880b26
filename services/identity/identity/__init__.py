"""identity: accounts, the OpenID Connect provider (SSO), roles, MFA, sessions and login audit."""

from pathlib import Path

import servicekit
from flask import Flask

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(overrides=None):
    """The identity web application; `overrides` replaces settings (tests)."""
    app = Flask("identity")
    from identity import config

    app.config.from_mapping(config.load() if not (overrides or {}).get("SKIP_ENV") else {})
    app.config["MIGRATIONS_DIR"] = MIGRATIONS_DIR
    app.config.update(overrides or {})
    servicekit.init_app(app)

    from identity import api

    app.register_blueprint(api.bp)
    return app
