"""Test databases: SQLite files, or PostgreSQL databases when ENRS_TEST_DATABASE_URL is set."""

import os
import uuid
from contextlib import contextmanager

import sqlalchemy as sa

from servicekit.db import make_engine
from servicekit.testing.common import skip_or_fail

VERSION_TABLE_PREFIX = "alembic_version"


def postgres_url():
    """ENRS_TEST_DATABASE_URL, the PostgreSQL server tests should use, or None."""
    return os.environ.get("ENRS_TEST_DATABASE_URL") or None


def _admin_engine(url):
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def fresh_postgres_database(base_url, prefix):
    """Create an empty PostgreSQL database for one test run and return its URL."""
    url = sa.engine.make_url(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}".lower()
    admin = _admin_engine(url)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url):
    """Drop a database made by fresh_postgres_database, closing its remaining connections."""
    url = sa.engine.make_url(url)
    admin = _admin_engine(url.set(database="postgres"))
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def database_url(tmp_path, prefix):
    """A fresh database for a test: on PostgreSQL when configured, else a SQLite file."""
    base = postgres_url()
    if base:
        return fresh_postgres_database(base, prefix)
    return f"sqlite:///{tmp_path / (prefix + '.db')}"


class TestDatabase:
    """A database migrated once per pytest session and emptied after every test.

    SQLite file in `folder` by default; a fresh PostgreSQL database (created on the server of
    ENRS_TEST_DATABASE_URL, dropped by `close`) when that variable is set. In a conftest.py:

        @pytest.fixture(scope="session")
        def database(tmp_path_factory):
            with TestDatabase("identity", tmp_path_factory.mktemp("db")) as database:
                yield database

        @pytest.fixture
        def app(database):
            app = create_app({"DATABASE_URL": database.url, ...})
            database.migrate(app)       # runs the migrations on the first call only
            yield app
            database.empty(app)         # every table but the Alembic version tables

    `empty` also clears the append-only audit_log: on PostgreSQL TRUNCATE fires no row
    trigger; on SQLite the triggers are dropped and recreated in the same transaction.
    """

    __test__ = False  # not a test class, despite its name

    def __init__(self, name, folder=None):
        self.name = name
        self.folder = folder
        self.url = self._create(name, folder)
        self.engine = make_engine(self.url)
        self.migrated = False
        self._tables = None

    @staticmethod
    def _create(name, folder):
        base = postgres_url()
        if not base:
            if folder is None:
                raise ValueError("TestDatabase needs a folder for its SQLite file")
            return f"sqlite:///{folder / (name + '.db')}"
        try:
            return fresh_postgres_database(base, f"test_{name}")
        except sa.exc.OperationalError as exc:
            skip_or_fail(f"PostgreSQL at ENRS_TEST_DATABASE_URL is not reachable: {exc}")

    @property
    def is_postgres(self):
        """True on PostgreSQL, False on SQLite."""
        return self.engine.dialect.name == "postgresql"

    def migrate(self, app):
        """Apply the app's migrations, once per session."""
        if not self.migrated:
            from servicekit import migrations

            migrations.upgrade(app)
            self.migrated = True
            self._tables = None

    def tables(self):
        """The service's tables, children before parents, without the Alembic version tables."""
        if not self._tables:  # read again while empty: something may have migrated since
            metadata = sa.MetaData()
            metadata.reflect(self.engine)
            self._tables = [
                table.name
                for table in reversed(metadata.sorted_tables)
                if not table.name.startswith(VERSION_TABLE_PREFIX)
            ]
        return self._tables

    def empty(self, app=None):
        """Delete every row of every table; the app's pooled connections are closed first."""
        if app is not None:
            from servicekit import db

            db.database(app).dispose()
        with self.engine.begin() as connection:
            if self.is_postgres:
                self._truncate(connection)
            else:
                self._delete_all(connection)

    def _truncate(self, connection):
        if not self.tables():
            return
        # A test that leaves a transaction open would make TRUNCATE wait forever.
        connection.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        names = ", ".join(f'"{name}"' for name in self.tables())
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    def _delete_all(self, connection):
        triggers = connection.execute(
            sa.text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        guarded = {table for _name, table, _sql in triggers}
        # A DELETE first: it opens the transaction, so the trigger changes below are part of it
        # (the sqlite3 module would otherwise run the DDL outside any transaction).
        for name in [name for name in self.tables() if name not in guarded]:
            connection.execute(sa.delete(sa.table(name)))
        for name, _table, _sql in triggers:
            connection.execute(sa.text(f'DROP TRIGGER "{name}"'))
        for name in [name for name in self.tables() if name in guarded]:
            connection.execute(sa.delete(sa.table(name)))
        if _has_table(connection, "sqlite_sequence"):
            connection.execute(sa.text("DELETE FROM sqlite_sequence"))
        for _name, _table, sql in triggers:
            connection.exec_driver_sql(sql)

    @contextmanager
    def scratch(self):
        """The URL of an empty database for one test that migrates by itself, removed after.

        SQLite: a new file beside this one. PostgreSQL: a new schema in this database, chosen
        through the connection's search_path (much faster than CREATE/DROP DATABASE).
        """
        label = f"scratch_{uuid.uuid4().hex[:10]}"
        if not self.is_postgres:
            yield f"sqlite:///{self.folder / (label + '.db')}"
            return
        with self.engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{label}"'))
        url = sa.engine.make_url(self.url).update_query_dict({"options": f"-csearch_path={label}"})
        try:
            yield url.render_as_string(hide_password=False)
        finally:
            with self.engine.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{label}" CASCADE'))

    def close(self):
        """Release the engine and drop the PostgreSQL database."""
        self.engine.dispose()
        if self.is_postgres:
            drop_postgres_database(self.url)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _has_table(connection, name):
    found = connection.execute(
        sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": name},
    )
    return found.first() is not None
