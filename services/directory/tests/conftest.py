"""Fixtures for the directory's tests: the app on a migrated database, tokens, personas."""

import pytest
from directory import create_app
from servicekit import db
from servicekit.testing import (
    TEST_AUDIENCE,
    TEST_ISSUER,
    JwksServer,
    SigningKey,
    TestDatabase,
    TokenFactory,
)


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    with TestDatabase("directory", tmp_path_factory.mktemp("db")) as database:
        yield database


@pytest.fixture(scope="session")
def signing_key():
    return SigningKey()


@pytest.fixture(scope="session")
def jwks(signing_key):
    with JwksServer([signing_key]) as server:
        yield server


@pytest.fixture
def tokens(signing_key):
    return TokenFactory(signing_key, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)


@pytest.fixture
def settings(database, jwks, tmp_path):
    return {
        "SKIP_ENV": True,
        "TESTING": True,
        "DATABASE_URL": database.url,
        "SECRET_KEY": "directory-test-secret-key-0123456789",
        "OIDC_ISSUER": TEST_ISSUER,
        "OIDC_AUDIENCE": TEST_AUDIENCE,
        "OIDC_JWKS_URL": jwks.url,
        "IMPORT_DIR": str(tmp_path / "imports"),
        "IMPORT_MAX_BYTES": 5 * 1024 * 1024,
        "IMPORT_BATCH_SIZE": 50,
    }


@pytest.fixture
def app(database, settings):
    app = create_app(settings)
    database.migrate(app)
    yield app
    database.empty(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    """A session on the app's database for arranging and checking rows."""
    session = db.database(app).session_factory()
    yield session
    session.close()


@pytest.fixture
def gcs_admin(tokens):
    """Authorization header of a member of the regional GCS staff who runs the platform."""
    return tokens.auth_header(sub="0b6f1f5e-5b7a-4a8e-9a51-2f4f0d9c1a01", roles=["platform-admin"])


@pytest.fixture
def gp(tokens):
    """Authorization header of a community doctor (GP): logged in, but no admin."""
    return tokens.auth_header(
        sub="6a1d3c2e-0f1b-4c55-8d0e-3b9a7e6f5a02", roles=["clinician"], rpps="10001234567"
    )
