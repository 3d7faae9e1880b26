"""identity: accounts, the OpenID Connect provider (SSO), roles, MFA, sessions and login audit."""

from pathlib import Path

import servicekit
from flask import Flask

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# servicekit.events.worker.JOBS, spelt out so that web processes do not load the Kafka client.
WORKER_JOBS = "servicekit.worker.jobs"


def create_app(overrides=None):
    """The identity web application; `overrides` replaces settings (tests)."""
    app = Flask("identity")
    from identity import config

    app.config.from_mapping(config.load() if not (overrides or {}).get("SKIP_ENV") else {})
    app.config["MIGRATIONS_DIR"] = MIGRATIONS_DIR
    app.config.update(overrides or {})
    for name, value in config.cookie_settings(app.config).items():
        if name not in (overrides or {}):
            app.config[name] = value
    _trust_proxies(app)
    servicekit.init_app(app, token_keys=_token_keys(app))

    from identity import api, authn, cli, login, oauth, openapi

    app.register_blueprint(login.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    cli.init_app(app)
    oauth.init_app(app)
    # The worker deletes failed sign-in attempts past the throttling window, once an hour.
    app.extensions.setdefault(WORKER_JOBS, []).append(authn.forget_old_attempts_job)
    return app


def _token_keys(app):
    """The key store identity verifies its own access tokens with (never its JWKS over HTTP).

    Tests put one in TOKEN_KEYS; otherwise identity.oauth's store is used.
    """
    return app.config.get("TOKEN_KEYS")


def _trust_proxies(app):
    # Behind N reverse proxies, take the client address from X-Forwarded-For (login throttling).
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
