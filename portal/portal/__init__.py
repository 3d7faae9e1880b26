"""portal: the single access point of the platform, an OpenID Connect client of identity."""

from pathlib import Path

import servicekit
from flask import Flask

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(overrides=None):
    """The portal web application; `overrides` replaces settings (tests)."""
    app = Flask("portal")
    from portal import config

    app.config.from_mapping(config.load() if not (overrides or {}).get("SKIP_ENV") else {})
    app.config["MIGRATIONS_DIR"] = MIGRATIONS_DIR
    app.config["SERVICEKIT_JSON_ERRORS"] = False
    app.config.update(overrides or {})
    servicekit.init_app(app)

    from portal import admin, auth, directory, logout_tokens, oidc, sessions, tiles, views, web

    sessions.init_app(app)
    web.init_app(app)
    oidc.init_app(app)
    logout_tokens.init_app(app)
    tiles.init_app(app)
    web.csrf.exempt(auth.backchannel_logout)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(directory.bp)
    return app
