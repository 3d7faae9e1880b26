"""Fixtures of the portal's tests: the app on a migrated database, a stand-in issuer, personas.

The stand-in issuer is a loopback HTTP server for the tests that do not start identity: it serves
discovery, the JWKS of a test key, a token endpoint answering what the test prepares, and
GET /api/v1/me recording the headers it was called with.
"""

import sys

# pytest names this file "portal.tests.conftest" after its path (--import-mode=importlib), which
# registers the project folder portal/ as a namespace package "portal" that hides the real
# package portal/portal. Forget that stand-in so that `import portal` finds the real one.
if not hasattr(sys.modules.get("portal"), "create_app"):
    sys.modules.pop("portal", None)

import datetime as dt
import http.server
import json
import secrets
import time
import urllib.parse
import uuid

import pytest
from portal.models import PortalSession
from portal.sessions import COOKIE_NAME, Login, hash_key, token_cipher, write_login
from servicekit import db
from servicekit.models import utcnow
from servicekit.testing import LoopbackServer, SigningKey, TestDatabase, TokenFactory

from portal import create_app

SECRET_KEY = "portal-test-secret-key-0123456789abcdef"
USER = {
    "id": "5f0c2c1e-3d7a-4a53-9a43-2f3c1d0e7b11",
    "username": "claire.martin",
    "given_name": "Claire",
    "family_name": "Martin",
    "email": "claire.martin@example.org",
    "rpps": "10001234567",
    "roles": ["clinician"],
    "disabled": False,
    "mfa_enabled": True,
    "created_at": "2026-11-01T08:00:00+00:00",
    "last_login_at": "2026-11-29T08:00:00+00:00",
}
ME = {
    "user": USER,
    "sessions": [
        {
            "id": "Xq3_9a-Lm0pQ7rS2tU5vW8yZ1bC4dE6f",
            "created_at": "2026-11-29T08:00:00+00:00",
            "last_seen_at": "2026-11-29T08:05:00+00:00",
            "expires_at": "2026-11-29T20:00:00+00:00",
            "user_agent": "Firefox",
            "current": True,
        }
    ],
    "mfa": {"enabled": True, "devices": []},
}


class FakeIssuer(LoopbackServer):
    """Discovery, JWKS, a token endpoint and prepared /api/v1 answers on a loopback port."""

    def __init__(self, client_id="portal"):
        self.key = SigningKey()
        self.client_id = client_id
        super().__init__(self._handler())
        self.tokens = TokenFactory(self.key, issuer=self.url)
        self.reset()

    def reset(self):
        """Forget the requests seen and the answers prepared by the previous test."""
        self.token_requests = []
        self.token_connections = []  # the client (host, port) each token request came from
        self.api_requests = []
        self.token_answer = None  # callable(form) -> (status, body)
        # "METHOD /path" -> (status, body); identity's API as the contract describes it
        self.api = {"GET /api/v1/me": (200, ME)}

    def metadata(self):
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks.json",
            "end_session_endpoint": f"{self.url}/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self, sub, nonce, **claims):
        """An ID token for the portal, as identity signs them."""
        now = int(time.time())
        body = {
            "iss": self.url,
            "sub": sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **claims,
        }
        return self.key.sign(body, headers={"typ": "JWT"})

    def logout_token(self, headers=None, **claims):
        """A back-channel logout token; keyword arguments replace or remove (None) claims."""
        body = {
            "iss": self.url,
            "aud": self.client_id,
            "iat": int(time.time()),
            "exp": int(time.time()) + 120,
            "jti": uuid.uuid4().hex,
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return self.key.sign(body, headers={"typ": "logout+jwt", **(headers or {})})

    def _handler(self):
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # Connections stay open between requests, as identity's do (HTTP keep-alive).
            protocol_version = "HTTP/1.1"

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _api(self):
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else b""
                issuer.api_requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": urllib.parse.parse_qs(query),
                        "headers": dict(self.headers),
                        "json": json.loads(body) if body else None,
                    }
                )
                status, answer = issuer.api.get(f"{self.command} {path}", (404, {"error": "?"}))
                if status == 204:
                    self.send_response(204)
                    self.end_headers()
                    return None
                return self._answer(status, answer)

            def do_GET(self):
                if self.path.startswith("/api/"):
                    return self._api()
                if self.path == "/.well-known/openid-configuration":
                    return self._answer(200, issuer.metadata())
                if self.path == "/healthz":
                    return self._answer(200, {"status": "ok"})
                if self.path == "/jwks.json":
                    return self._answer(200, {"keys": [issuer.key.public_jwk()]})
                return self._answer(404, {"error": "Not found."})

            def do_PUT(self):
                return self._api()

            def do_DELETE(self):
                return self._api()

            def do_POST(self):
                if self.path.startswith("/api/"):
                    return self._api()
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                form["authorization"] = self.headers.get("Authorization", "")
                issuer.token_requests.append(form)
                issuer.token_connections.append(self.client_address)
                if self.path != "/token" or issuer.token_answer is None:
                    return self._answer(400, {"error": "invalid_request"})
                return self._answer(*issuer.token_answer(form))

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    with TestDatabase("portal", tmp_path_factory.mktemp("db")) as database:
        yield database


@pytest.fixture(scope="session")
def issuer():
    with FakeIssuer() as issuer:
        yield issuer


@pytest.fixture
def settings(database, issuer, monkeypatch):
    """The portal's environment, as an operator would set it."""
    values = {
        "DATABASE_URL": database.url,
        "SECRET_KEY": SECRET_KEY,
        "OIDC_ISSUER": issuer.url,
        "PORTAL_OIDC_CLIENT_ID": "portal",
        "PORTAL_OIDC_CLIENT_SECRET": "portal-client-secret",
        "ENRS_PUBLIC_URL": "http://localhost",
        "IDENTITY_URL": issuer.url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def app(settings, database, issuer):
    issuer.reset()
    app = create_app({"TESTING": True})
    database.migrate(app)
    yield app
    database.empty(app)


@pytest.fixture
def client(app):
    return app.test_client()


class Personas:
    """Logs a persona in by writing its portal session, as the login callback would."""

    def __init__(self, app, issuer):
        self.app = app
        self.issuer = issuer

    def login(self, client, sub, roles, sid=None, expires_in=300, **user):
        key = secrets.token_urlsafe(32)
        sid = sid or secrets.token_hex(8)
        access = self.issuer.tokens.make_token(sub=sub, roles=roles, sid=sid, lifetime=expires_in)
        login = Login(
            user={"sub": sub, "roles": sorted(roles), **user},
            sub=sub,
            sid=sid,
            access_token=access,
            access_expires_at=utcnow() + dt.timedelta(seconds=expires_in),
            refresh_token="refresh-" + secrets.token_hex(8),
            id_token="id-token",
        )
        with db.sessions(self.app) as session:
            row = PortalSession(
                key_hash=hash_key(key), data={}, expires_at=utcnow() + dt.timedelta(minutes=30)
            )
            write_login(row, login, token_cipher(SECRET_KEY))
            session.add(row)
        client.set_cookie(COOKIE_NAME, key, domain="localhost")
        return login


@pytest.fixture
def personas(app, issuer):
    return Personas(app, issuer)


@pytest.fixture
def personas_of(issuer):
    """Personas for an app a test builds itself."""
    return lambda app: Personas(app, issuer)


@pytest.fixture
def gp(client, personas):
    """A community doctor (GP): clinician."""
    personas.login(client, "gp-1", ["clinician"], given_name="Claire", family_name="Martin")
    return client


@pytest.fixture
def gcs_admin(client, personas):
    """Regional GCS staff running the platform."""
    personas.login(client, "admin-1", ["platform-admin"], given_name="Paul")
    return client


@pytest.fixture
def csrf_token(app):
    """Reads the CSRF token of a client's session from a page that has a form."""
    import re

    def read(client, path="/"):
        page = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    return read
