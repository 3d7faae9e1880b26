import sys
from pathlib import Path

import pytest
from servicekit.testing import (
    TEST_ISSUER,
    JwksServer,
    SigningKey,
    TestDatabase,
    TokenFactory,
)

# kitapp, the test application, is imported by name (also by `flask --app kitapp` subprocesses).
TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import kitapp  # noqa: E402
import kitapp.handlers  # noqa: E402 - registers kitapp's event handlers, as its worker does


@pytest.fixture(scope="session")
def identity_key():
    """The key identity signs access tokens with."""
    return SigningKey()


@pytest.fixture(scope="session")
def jwks(identity_key):
    """identity's JWKS endpoint, on a real loopback port."""
    with JwksServer([identity_key]) as server:
        yield server


@pytest.fixture(scope="session")
def tokens(identity_key):
    return TokenFactory(identity_key)


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    with TestDatabase("kitapp", tmp_path_factory.mktemp("kitapp-db")) as test_database:
        yield test_database


@pytest.fixture
def settings(jwks, database):
    """kitapp's settings: our test issuer, its JWKS, the session's database."""
    return {
        "DATABASE_URL": database.url,
        "OIDC_ISSUER": TEST_ISSUER,
        "OIDC_JWKS_URL": jwks.url,
        "SECRET_KEY": "test-secret",
        "TESTING": True,
    }


@pytest.fixture(scope="session")
def app_factory():
    """kitapp's create_app, for servicekit.testing.fixtures' `app`, `client`, `db_session`."""
    return kitapp.create_app


@pytest.fixture
def gp(tokens):
    """A GP: a clinician with the usual scopes."""
    return tokens.auth_header(sub="gp-1", roles=["clinician"], scope="openid records:read")


@pytest.fixture
def gcs_admin(tokens):
    """A GCS administrator: platform-admin, no clinical role, no records scope."""
    return tokens.auth_header(sub="admin-1", roles=["platform-admin"], scope="openid")
