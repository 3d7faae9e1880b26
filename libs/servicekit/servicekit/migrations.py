"""Alembic, per service: each service has its own migrations folder and its own version table."""

import logging

# Alembic is imported where it is used: web processes only need it for /readyz, and loading it
# up front slows every process start.
import sqlalchemy as sa
from flask import current_app

from servicekit import db
from servicekit.models import UTCDateTime


def alembic_config(app):
    """The Alembic config of the app's service, pointing at its database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(app.config["MIGRATIONS_DIR"]))
    config.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"].replace("%", "%%"))
    config.attributes["version_table"] = version_table(app)
    config.attributes["engine"] = db.database(app).engine
    return config


def version_table(app):
    """The service's own Alembic version table, so services may share a database."""
    return f"alembic_version_{app.name}"


def upgrade(app=None, revision="heads"):
    """Apply every pending migration of the app's service."""
    app = app or current_app
    # Alembic narrates its plugin set-up at INFO; a migration run only needs its own result line.
    if app.config.get("LOG_LEVEL", "INFO") != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command

    command.upgrade(alembic_config(app), revision)


def is_current(app):
    """True when the database is at the newest migration."""
    return schema_state(app) == "current"


def schema_state(app):
    """ "current", "pending" (migrations to apply) or "ahead" (a newer release migrated it).

    "ahead" is what the pods of the previous release see during a rolling upgrade once the new
    release's migration ran: migrations only add what the older code ignores, so they keep
    serving.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config(app))
    with db.database(app).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": version_table(app)})
        applied = set(context.get_current_heads())
    if applied == set(script.get_heads()):
        return "current"
    for revision in applied:
        try:
            script.get_revision(revision)
        except CommandError:  # a revision this code does not know: written by a newer release
            return "ahead"
    return "pending"


def differences(app, *metadatas):
    """What autogenerate would change for the database to match the service's models and the
    kit's tables: empty when the migrations build exactly what the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from servicekit.models import KitBase

    found = []
    with db.database(app).engine.connect() as connection:
        context = MigrationContext.configure(connection)
        for metadata in (*metadatas, KitBase.metadata):
            found += [
                diff
                for diff in compare_metadata(context, metadata)
                if not _of_other_metadata(diff, metadata)
            ]
    return found


def _of_other_metadata(diff, metadata):
    # Compared with one metadata at a time, the tables of the others look like extra tables.
    if diff[0] == "remove_table":
        return True
    return diff[0] == "remove_index" and diff[1].table.name not in metadata.tables


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


_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}


def create_kit_tables():
    """Create outbox, processed_events and the append-only audit_log (first migration)."""
    from alembic import op

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("patient", sa.String(length=100), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("outcome", sa.String(length=50), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_patient"), ["patient"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_unpublished",
            ["id"],
            unique=False,
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_events")),
    )
    for statement in _APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def byte_compared_event_ids(upgrade: bool = True):
    """On PostgreSQL, give the outbox's event ids the collation "C" (models.EventIdText), or
    back the database's own (upgrade=False): a migration of each service (decision 63)."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite compares text byte by byte
    bytewise, own = sa.String(36, collation="C"), sa.String(36)
    op.alter_column(
        "outbox",
        "event_id",
        type_=bytewise if upgrade else own,
        existing_type=own if upgrade else bytewise,
        existing_nullable=False,
    )


def drop_kit_tables():
    """Undo create_kit_tables."""
    from alembic import op

    op.drop_table("processed_events")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unpublished",
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )

    op.drop_table("outbox")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_patient"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
