"""The ENRS shared kit: what every service gets from one `init_app(app)` call."""

from servicekit import audit, auth, db, errors, health, logs, metrics, requestid, sessions
from servicekit.config import env_bool, env_int, env_list, env_secret, env_str

__all__ = ["audit", "auth", "common_config", "db", "errors", "init_app"]

MAX_CONTENT_LENGTH = 1024 * 1024


def common_config(service):
    """The settings every service reads from its environment (DESIGN.md, Configuration)."""
    return {
        "DATABASE_URL": env_str("DATABASE_URL"),
        "SECRET_KEY": env_secret("SECRET_KEY"),
        "KAFKA_BOOTSTRAP_SERVERS": env_str("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "OIDC_ISSUER": env_str("OIDC_ISSUER"),
        "OIDC_AUDIENCE": env_str("OIDC_AUDIENCE", "enrs-api"),
        "OIDC_JWKS_URL": env_str("OIDC_JWKS_URL", None),
        "ENRS_PUBLIC_URL": env_str("ENRS_PUBLIC_URL", None),
        "LOG_LEVEL": env_str("LOG_LEVEL", "INFO"),
        "EVENT_SOURCE": f"/enrs/{service}",
        "MAX_CONTENT_LENGTH": env_int("MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH),
        # false where one Job migrates before the pods start (Kubernetes): Alembic takes no lock.
        "MIGRATE_AT_START": env_bool("MIGRATE_AT_START", True),
    }


def init_app(app, token_keys=None):
    """Attach logging, request ids, database, errors, auth, metrics and health to app.

    Also registers the `flask --app <pkg> migrate` and `flask --app <pkg> worker` commands.
    `token_keys` is for identity only: the key store it verifies its own tokens with.
    """
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH)
    app.json.sort_keys = False
    logs.init_app(app)
    requestid.init_app(app)
    sessions.init_app(app)
    db.init_app(app)
    errors.init_app(app)
    auth.init_app(app, keys=token_keys)
    metrics.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    _register_commands(app)


def _register_commands(app):
    import click

    @app.cli.command("migrate")
    def migrate_command():
        """Apply the service's pending database migrations."""
        from servicekit import migrations

        migrations.upgrade(app)
        click.echo(f"{app.name}: database at the latest migration")

    @app.cli.command("worker")
    def worker_command():
        """Relay the outbox to Kafka and run the event handlers, until SIGTERM or SIGINT."""
        from servicekit.events.worker import run_worker

        run_worker(app)


__all__ += ["env_bool", "env_int", "env_list", "env_secret", "env_str"]
