"""SQLite connections: what each one is set up with to serve a web process and a worker at once."""

import threading

import sqlalchemy as sa
import sqlalchemy.orm as so
from servicekit import db


def pragma(connection, name):
    return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_every_sqlite_connection_is_set_up_for_concurrent_writers(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'kit.db'}")
    try:
        with engine.connect() as connection:
            assert pragma(connection, "journal_mode") == "wal"
            assert pragma(connection, "synchronous") == 1  # NORMAL: no sync at each commit in WAL
            assert pragma(connection, "foreign_keys") == 1
            assert pragma(connection, "busy_timeout") == 5000
            assert pragma(connection, "wal_autocheckpoint") == 4000
            assert pragma(connection, "page_size") == db.PAGE_SIZE == 16384
    finally:
        engine.dispose()


def test_a_database_made_with_other_pages_keeps_them(tmp_path):
    path = tmp_path / "old.db"
    older = sa.create_engine(f"sqlite:///{path}")  # SQLite's own default: 4 KiB pages
    with older.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
    older.dispose()
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO t (body) VALUES ('kept')"))
        with engine.connect() as connection:
            assert pragma(connection, "page_size") == 4096
            assert pragma(connection, "journal_mode") == "wal"
            assert connection.execute(sa.text("SELECT body FROM t")).scalar() == "kept"
    finally:
        engine.dispose()


def test_the_log_is_copied_into_the_database_only_past_4000_pages(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'kit.db'}")
    wal = tmp_path / "kit.db-wal"
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        # Each commit writes a page or more to the log; past 1,000 SQLite's default would have
        # copied them into the database and started the log again from its beginning.
        for _ in range(2500):
            with engine.begin() as connection:
                connection.execute(sa.text("INSERT INTO t (body) VALUES (:b)"), {"b": "x" * 3000})
        frames = (wal.stat().st_size - 32) // (db.PAGE_SIZE + 24)
        assert frames > 2000
    finally:
        engine.dispose()


def test_a_larger_cache_holds_for_this_thread_s_connections_within_the_block(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'kit.db'}")

    def cache_size():
        with engine.connect() as connection:
            return pragma(connection, "cache_size")

    elsewhere = []
    try:
        with so.Session(engine) as session, db.larger_cache(session, kib=4096):
            inside = session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
            other = threading.Thread(target=lambda: elsewhere.append(cache_size()))
            other.start()
            other.join()
            foreign_keys = session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert (inside, foreign_keys) == (-4096, 1)
        assert elsewhere == [-2000]
        assert cache_size() == -2000
    finally:
        engine.dispose()
