"""SQLAlchemy 2 engine and sessions: one session per request, `sessions()` for workers."""

import contextvars
import time
from contextlib import contextmanager

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, g, has_app_context

EXTENSION = "servicekit.db"
# Seconds a pooled connection may sit unused and still be taken as alive without a check.
PING_AFTER_IDLE = 5.0


class Database:
    """The service's engine and session factory, kept in app.extensions."""

    def __init__(self, url, engine_options=None):
        self.url = url
        self.engine = make_engine(url, **(engine_options or {}))
        self.session_factory = so.sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def sessions(self):
        """A session that commits when the block ends normally and rolls back otherwise."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self):
        """Close every pooled connection."""
        self.engine.dispose()


PAGE_SIZE = 16384


def _sqlite_pragmas(dbapi_connection, record):
    cursor = dbapi_connection.cursor()
    # A database made now gets 16 KiB pages (SQLite's default is 4): a bulk import writes, logs
    # and checkpoints a quarter as many, each with its system calls (a first import of the
    # directory: 8 % less CPU). One made before keeps its size (changing it takes a VACUUM
    # outside write-ahead logging); the pragma must come before the file is first written.
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA foreign_keys=ON")
    record.info["foreign_keys"] = "ON"
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Pages are copied from the write-ahead log into the database every 4,000 pages written
    # (64 MB; 16 MB in a database of 4 KiB pages) instead of 1,000: a page written again
    # meanwhile (the end of a table or of an index) is copied once. A refresh grant writes
    # about 20 pages: its commit costs a quarter less CPU.
    cursor.execute("PRAGMA wal_autocheckpoint=4000")
    cursor.close()


# The pragmas a connection is checked out with, unless a block of this thread or task asks
# for others (foreign_keys_checked_after, larger_cache: (name, value) pairs, the innermost
# block's last): SQLite's own defaults but for the foreign keys, enforced.
_CHECKOUT_DEFAULTS = {"foreign_keys": "ON", "cache_size": "-2000"}
_checkout_pragmas = contextvars.ContextVar("sqlite_checkout_pragmas", default=())


def _sqlite_checkout(dbapi_connection, record, _proxy):
    # At checkout no transaction is open: a pragma that is a no-op within one takes effect.
    asked = dict(_checkout_pragmas.get())
    for name, default in _CHECKOUT_DEFAULTS.items():
        wanted = asked.get(name, default)
        if record.info.get(name, default) != wanted:
            dbapi_connection.execute(f"PRAGMA {name}={wanted}")
            record.info[name] = wanted


@contextmanager
def _checked_out_with(session, **pragmas):
    """Within the block, the connections this thread checks out (each transaction's, after the
    session's current one, which is committed first) run with `pragmas`."""
    session.commit()
    token = _checkout_pragmas.set((*_checkout_pragmas.get(), *pragmas.items()))
    try:
        yield
    except BaseException:
        session.rollback()  # its connection goes back to the pool, to be reset
        raise
    finally:
        _checkout_pragmas.reset(token)
    session.commit()  # likewise: the next transaction's connection has the defaults again


class ForeignKeyViolation(Exception):
    """Rows written while foreign keys were not enforced point at rows that do not exist."""


@contextmanager
def foreign_keys_checked_after(session, *tables: str):
    """On SQLite, write without enforcing foreign keys row by row, then check `tables` once.

    Within the block, the connections this thread checks out (each transaction's, after the
    session's current one, which is committed first) do not look up each row's parents; the
    block's transaction is committed when it ends (rolled back if it raises), then the rows of
    `tables` are checked in one pass and ForeignKeyViolation names the first dangling ones. A
    bulk load whose code gives every row its parent writes about a sixth faster. Other
    databases run the block as it is (PostgreSQL's constraints are the callers' to drop).
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _checked_out_with(session, foreign_keys="OFF"):
        yield
    for table in tables:
        dangling = session.execute(sa.text(f'PRAGMA foreign_key_check("{table}")')).all()
        if dangling:
            raise ForeignKeyViolation(f"{table}: rows {[row[1] for row in dangling[:10]]}")


# What larger_cache keeps of a database's pages in memory: what a first import of the directory
# writes in a transaction and reads back (events of the rows it inserted, lookups), in KiB.
LARGER_CACHE_KIB = 8192


@contextmanager
def larger_cache(session, kib: int = LARGER_CACHE_KIB):
    """On SQLite, keep `kib` of each connection's pages in memory within the block, instead of
    SQLite's 2,000 KiB: connections checked out as in foreign_keys_checked_after.

    A bulk write whose transactions outgrow the smaller cache reads back from the file system
    the pages it has just written: a first import of the directory read 1.3 GB for a database
    of 0.6 GB, 0.4 GB with 8 MiB, and wrote a sixth less (decision 54). Not for building
    indexes: SQLite sorts within the cache, slower in a larger one. Elsewhere the block runs as
    it is.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _checked_out_with(session, cache_size=f"-{kib}"):
        yield


def make_engine(url, **options):
    """An engine with the pragmas SQLite needs to serve a web process and a worker at once."""
    url = sa.engine.make_url(url)
    if url.get_backend_name() == "sqlite":
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 5})
        engine = sa.create_engine(url, **options)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "checkout", _sqlite_checkout)
        return engine
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    engine = sa.create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine):
    """Check a pooled connection before use only when it sat idle long enough to have died.

    pool_pre_ping would cost a round trip on every checkout, that is on every request; a
    connection back in use within PING_AFTER_IDLE seconds is taken as alive (a failure then is
    handled like any other lost connection: SQLAlchemy invalidates the pool).
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error

    def checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except dbapi_error as exc:
            # The pool discards this connection and checks out another one.
            raise sa.exc.DisconnectionError("the pooled connection is gone") from exc

    sa.event.listen(engine, "checkin", checkin)
    sa.event.listen(engine, "checkout", checkout)


def database(app=None):
    """The Database of the given (or current) app."""
    return (app or current_app).extensions[EXTENSION]


def session():
    """The current request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = database().session_factory()
    return g.db_session


def sessions(app=None):
    """A committing session for code outside a request (workers, CLI commands)."""
    return database(app).sessions()


def rollback_quietly():
    """Roll back the request's session, if any, after an error."""
    if has_app_context() and "db_session" in g:
        g.db_session.rollback()


def _close_session(_exc):
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


def ping(app=None):
    """Check the database answers, taking no lock."""
    with database(app).engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def init_app(app):
    """Create the engine from DATABASE_URL and close the request session at teardown."""
    app.extensions[EXTENSION] = Database(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)
