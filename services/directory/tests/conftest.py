"""Fixtures for the directory's tests: its database, settings and personas.

`app`, `client`, `runner`, `db_session`, `tokens` and `jwks` come from servicekit.testing.fixtures.
"""

import pytest
import sqlalchemy as sa
from directory import create_app
from servicekit import db
from servicekit.testing import TEST_AUDIENCE, TEST_ISSUER, TestDatabase


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    with TestDatabase("directory", tmp_path_factory.mktemp("db")) as database:
        yield database


@pytest.fixture(scope="session")
def app_factory():
    return create_app


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
def gcs_admin(tokens):
    """Authorization header of a member of the regional GCS staff who runs the platform."""
    return tokens.auth_header(sub="0b6f1f5e-5b7a-4a8e-9a51-2f4f0d9c1a01", roles=["platform-admin"])


@pytest.fixture
def gp(tokens):
    """Authorization header of a community doctor (GP): logged in, but no admin."""
    return tokens.auth_header(
        sub="6a1d3c2e-0f1b-4c55-8d0e-3b9a7e6f5a02", roles=["clinician"], rpps="10001234567"
    )


@pytest.fixture
def index_names(app):
    """A function giving the names of the organisations', practitioners' and roles' indexes as
    they are now."""

    def names() -> set[str]:
        inspector = sa.inspect(db.database(app).engine)
        return {
            index["name"]
            for table in ("organizations", "practitioners", "practitioner_roles")
            for index in inspector.get_indexes(table)
        }

    return names


@pytest.fixture
def role_foreign_keys(app):
    """A function giving the names of the roles' foreign keys as they are now."""

    def names() -> set[str]:
        inspector = sa.inspect(db.database(app).engine)
        return {key["name"] for key in inspector.get_foreign_keys("practitioner_roles")}

    return names
