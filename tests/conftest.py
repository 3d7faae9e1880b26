"""Cross-service fixtures: identity and the portal run for real on loopback, and personas on them.

The platform is started once per test module: migrations, gunicorn, the portal's OIDC client and
one account per persona (known TOTP secrets, so that tests can type the current code).
"""

import dataclasses
import secrets
import time
import urllib.request

import pyotp
import pytest
from servicekit.testing import (
    ServiceProcess,
    database_url,
    drop_postgres_database,
    skip_or_fail,
)

PORTAL_SECRET = "portal-client-secret-for-tests-0123456789"
PASSWORD = "Un mot de passe de test assez long 42"


@dataclasses.dataclass
class Persona:
    """An account on the running identity, with what its owner knows."""

    username: str
    password: str
    totp_secret: str
    given_name: str
    family_name: str
    roles: tuple[str, ...]

    def code(self):
        """The TOTP code the persona's phone shows now."""
        return pyotp.TOTP(self.totp_secret).at(time.time())


@dataclasses.dataclass
class Platform:
    identity: ServiceProcess
    portal: ServiceProcess

    def add_persona(self, username, given_name, family_name, *roles, rpps=None):
        """Create an account on identity through its CLI, as an operator would."""
        persona = Persona(
            username, PASSWORD, pyotp.random_base32(), given_name, family_name, tuple(roles)
        )
        args = ["user", "create", username, "--given-name", given_name]
        args += ["--family-name", family_name, "--totp-secret", persona.totp_secret]
        for role in roles:
            args += ["--role", role]
        if rpps:
            args += ["--rpps", rpps]
        self.identity.flask(*args, "--password-stdin", input=PASSWORD + "\n")
        return persona


def _oidc_provider_answers(url):
    try:
        with urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=5) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


def _identity(tmp, keys):
    # Two workers, as deployed: identity calls the portal back while serving a logout.
    identity = ServiceProcess("identity", env={}, workers=2, log_path=tmp / "identity.log")
    identity.env.update(
        DATABASE_URL=database_url(tmp, "identity"),
        SECRET_KEY=secrets.token_hex(32),
        OIDC_ISSUER=identity.url,
        ENRS_PUBLIC_URL=identity.url,
        SIGNING_KEYS_DIR=str(keys),
        # As short as the portal's refresh margin: every call the portal makes to a service
        # first refreshes its token, so refresh-token rotation runs on every page of the tests.
        ACCESS_TOKEN_LIFETIME="30",
    )
    return identity


def _portal(tmp, identity):
    portal = ServiceProcess("portal", env={}, workers=2, log_path=tmp / "portal.log")
    portal.env.update(
        DATABASE_URL=database_url(tmp, "portal"),
        SECRET_KEY=secrets.token_hex(32),
        OIDC_ISSUER=identity.url,
        IDENTITY_URL=identity.url,
        ENRS_PUBLIC_URL=portal.url,
        PORTAL_OIDC_CLIENT_ID="portal",
        PORTAL_OIDC_CLIENT_SECRET=PORTAL_SECRET,
    )
    return portal


def _register_portal_client(identity, portal):
    identity.flask(
        "client", "create", "portal", "--secret-stdin",
        "--redirect-uri", f"{portal.url}/auth/callback",
        "--post-logout-redirect-uri", f"{portal.url}/",
        "--backchannel-logout-uri", f"{portal.url}/auth/backchannel-logout",
        "--grant", "authorization_code", "--grant", "refresh_token",
        "--scope", "openid profile email offline_access roles",
        input=PORTAL_SECRET + "\n",
    )  # fmt: skip


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """identity and the portal, running for real on loopback ports."""
    tmp = tmp_path_factory.mktemp("platform")
    keys = tmp / "keys"
    keys.mkdir()
    identity = _identity(tmp, keys)
    portal = _portal(tmp, identity)
    try:
        with identity:
            if not _oidc_provider_answers(identity.url):
                skip_or_fail("identity does not publish its OpenID Connect discovery document yet")
            _register_portal_client(identity, portal)
            with portal:
                yield Platform(identity, portal)
    finally:
        for service in (identity, portal):
            if service.env["DATABASE_URL"].startswith("postgresql"):
                drop_postgres_database(service.env["DATABASE_URL"])
