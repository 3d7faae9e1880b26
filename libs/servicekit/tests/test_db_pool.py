"""The connection pool on PostgreSQL: a connection is checked only after it sat idle."""

import pytest
import sqlalchemy as sa
from servicekit import db
from servicekit.testing.common import skip_or_fail
from servicekit.testing.database import (
    drop_postgres_database,
    fresh_postgres_database,
    postgres_url,
)

pytestmark = pytest.mark.postgres

BACKEND_PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
def postgres_database():
    base = postgres_url()
    if not base:
        skip_or_fail("PostgreSQL is not configured (ENRS_TEST_DATABASE_URL)")
    url = fresh_postgres_database(base, "pool")
    yield url
    drop_postgres_database(url)


@pytest.fixture
def engine(postgres_database):
    engine = db.make_engine(postgres_database, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def backend_pid(engine):
    with engine.connect() as connection:
        return connection.scalar(BACKEND_PID)


def terminate(postgres_database, pid):
    admin = sa.create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_it_replaces_a_pooled_connection_that_died_while_idle(
    engine, postgres_database, monkeypatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)
    first = backend_pid(engine)
    terminate(postgres_database, first)
    assert backend_pid(engine) != first


def test_it_reuses_a_connection_returned_moments_ago_without_checking_it(
    engine, postgres_database, monkeypatch
):
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 3600.0)
    first = backend_pid(engine)
    assert backend_pid(engine) == first
    terminate(postgres_database, first)
    # Unchecked, the dead connection fails its statement; the pool then starts afresh.
    with pytest.raises(sa.exc.OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != first
