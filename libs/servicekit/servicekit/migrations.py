"""Alembic, per service: each service has its own migrations folder and its own version table."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from servicekit import db


def alembic_config(app):
    """The Alembic config of the app's service, pointing at its database."""
    config = Config()
    config.set_main_option("script_location", str(app.config["MIGRATIONS_DIR"]))
    config.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    config.attributes["version_table"] = version_table(app)
    config.attributes["engine"] = db.database(app).engine
    return config


def version_table(app):
    return f"alembic_version_{app.name}"


def upgrade(app=None, revision="head"):
    """Apply every pending migration of the app's service."""
    app = app or current_app
    command.upgrade(alembic_config(app), revision)


def is_current(app):
    """True when the database is at the newest migration."""
    script = ScriptDirectory.from_config(alembic_config(app))
    with db.database(app).engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": version_table(app)}
        )
        return set(context.get_current_heads()) == set(script.get_heads())


def run_env(context, target_metadata):
    """The body of every service's migrations/env.py (online mode, engine from the app)."""
    config = context.config
    engine = config.attributes.get("engine")
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=config.attributes.get("version_table", "alembic_version"),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
