"""Fixtures for identity's tests: the app on a migrated database, personas, a signed-in browser."""

import dataclasses
import re
import time

import pyotp
import pytest
from identity import create_app, service
from servicekit import db
from servicekit.testing import TEST_AUDIENCE, TEST_ISSUER, TestDatabase

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclasses.dataclass
class Persona:
    id: str
    username: str
    password: str
    totp_secret: str
    roles: tuple[str, ...]

    def code(self, steps_ahead=0):
        """The TOTP code for now plus `steps_ahead` 30-second steps (codes are single-use)."""
        return pyotp.TOTP(self.totp_secret).at(time.time() + 30 * steps_ahead)


class TestKeys:
    """The key store identity would use, holding the test signing key only."""

    __test__ = False

    def __init__(self, key):
        self._key = key

    def key(self, kid):
        from servicekit.auth import InvalidToken

        if kid != self._key.kid:
            raise InvalidToken("the token is signed with an unknown key")
        return self._key.private_key.public_key()


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    with TestDatabase("identity", tmp_path_factory.mktemp("db")) as database:
        yield database


@pytest.fixture(scope="session")
def app_factory():
    return create_app


@pytest.fixture
def settings(database, signing_key):
    return {
        "SKIP_ENV": True,
        "TESTING": True,
        "DATABASE_URL": database.url,
        "SECRET_KEY": "identity-test-secret-key-0123456789",
        "OIDC_ISSUER": TEST_ISSUER,
        "OIDC_AUDIENCE": TEST_AUDIENCE,
        "TOKEN_KEYS": TestKeys(signing_key),
        "SESSION_IDLE_SECONDS": 30 * 60,
        "SESSION_MAX_SECONDS": 12 * 3600,
        "LOCKOUT_THRESHOLD": 5,
        "LOCKOUT_BASE_SECONDS": 60,
        "LOCKOUT_MAX_SECONDS": 3600,
        "LOGIN_IP_MAX_FAILURES": 50,
        "LOGIN_IP_WINDOW_SECONDS": 900,
    }


def make_persona(app, username, roles, rpps=None):
    secret = pyotp.random_base32()
    with app.app_context(), db.sessions() as session:
        user, _uri = service.create_user(
            session,
            "test-setup",
            username=username,
            given_name=username.split(".")[0].title(),
            family_name=username.split(".")[-1].title(),
            email=f"{username}@example.org",
            rpps=rpps,
            roles=list(roles),
            password=PASSWORD,
            totp_secret=secret,
        )
        return Persona(str(user.id), user.username, PASSWORD, secret, tuple(roles))


@pytest.fixture
def gp(app):
    """A community doctor (GP) with an RPPS number."""
    return make_persona(app, "claire.martin", ["clinician"], rpps="10001234567")


@pytest.fixture
def gcs_admin(app):
    """A member of the regional GCS staff who runs the platform."""
    return make_persona(app, "paul.leroy", ["platform-admin"])


@pytest.fixture
def neurologist(app):
    """A neurologist on the stroke rota."""
    return make_persona(app, "ines.haddad", ["clinician", "stroke-neurologist"], "10009876543")


class Browser:
    """A test client used the way a browser uses the sign-in form."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path="/login"):
        """The CSRF token of the sign-in form, as a browser gets it."""
        page = self.client.get(path)
        return CSRF_FIELD.search(page.get_data(as_text=True)).group(1)

    def sign_in(self, persona, code=None, password=None, next_url=None, username=None):
        """Submit the sign-in form; the response."""
        form = {
            "csrf_token": self.csrf_token(),
            "username": username or persona.username,
            "password": password or persona.password,
            "code": code or persona.code(),
        }
        if next_url is not None:
            form["next"] = next_url
        return self.client.post("/login", data=form)


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def another_browser(app):
    return Browser(app.test_client())


@pytest.fixture
def as_admin(tokens, gcs_admin):
    """Authorization header of the GCS admin's access token."""
    return tokens.auth_header(sub=gcs_admin.id, roles=["platform-admin"])
