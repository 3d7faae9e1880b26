"""The pytest fixtures every service's tests share (a plugin: `-p servicekit.testing.fixtures`).

A service's conftest.py provides three fixtures: `database` (its TestDatabase, session-wide),
`settings` (its app's test configuration) and `app_factory` (its `create_app`). This plugin
builds on them: `app` on the migrated database (emptied after each test), `client`, `runner`,
`db_session`, and the test signing key with its JWKS endpoint and token factory. A conftest
fixture of the same name takes precedence, as pytest resolves the nearest definition first.
"""

import pytest

from servicekit import db
from servicekit.testing.tokens import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    JwksServer,
    SigningKey,
    TokenFactory,
)


@pytest.fixture(scope="session")
def signing_key():
    """The key that signs the tests' access tokens."""
    return SigningKey()


@pytest.fixture(scope="session")
def jwks(signing_key):
    """A real JWKS endpoint on loopback serving the test key."""
    with JwksServer([signing_key]) as server:
        yield server


@pytest.fixture
def tokens(signing_key):
    """Access tokens and Authorization headers signed by the test key."""
    return TokenFactory(signing_key, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)


@pytest.fixture
def app(app_factory, database, settings):
    """The service's app on the migrated test database, emptied after the test."""
    application = app_factory(settings)
    database.migrate(application)
    yield application
    database.empty(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    """A session on the app's database for arranging and checking rows."""
    # No app context held here: requests made meanwhile must each get their own `g`.
    session = db.database(app).session_factory()
    yield session
    session.close()
