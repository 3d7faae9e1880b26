"""Test helpers shared by every service: tokens signed by a test key served on a real JWKS
endpoint, outbox reading, per-test databases (SQLite, or PostgreSQL when ENRS_TEST_DATABASE_URL
is set), and polling with a deadline instead of sleeping."""

import http.server
import json
import os
import socket
import threading
import time
import uuid

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from servicekit.models import OutboxEvent

TEST_ISSUER = "http://127.0.0.1/test-issuer"
TEST_AUDIENCE = "enrs-api"


def in_ci():
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port():
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SigningKey:
    """An RSA key pair with a kid, able to sign tokens and to show itself as a JWK."""

    def __init__(self, kid=None):
        self.kid = kid or uuid.uuid4().hex[:16]
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk

    def sign(self, claims, headers=None):
        header = {"kid": self.kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=header)


class JwksServer:
    """A loopback HTTP server publishing the test keys at /jwks.json, as identity does."""

    def __init__(self, keys):
        self.keys = list(keys)
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.requests += 1
                body = json.dumps({"keys": [key.public_jwk() for key in server.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks.json"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()


class TokenFactory:
    """Makes access tokens like identity's, signed with a test key."""

    def __init__(self, key, issuer=TEST_ISSUER, audience=TEST_AUDIENCE):
        self.key = key
        self.issuer = issuer
        self.audience = audience

    def claims(self, sub="user-1", roles=(), scope="openid", lifetime=300, **extra):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "scope": scope,
            "roles": list(roles),
            "sid": uuid.uuid4().hex,
            "acr": "mfa",
        }
        claims.update(extra)
        return claims

    def make_token(self, headers=None, **claims):
        """A signed access token; keyword arguments replace or add claims."""
        return self.key.sign(self.claims(**claims), headers=headers)

    def auth_header(self, **claims):
        """{'Authorization': 'Bearer <token>'} for a test client call."""
        return {"Authorization": f"Bearer {self.make_token(**claims)}"}


def emitted(session, type=None):
    """The outbox rows written so far (optionally of one event type), oldest first."""
    query = sa.select(OutboxEvent).order_by(OutboxEvent.id)
    if type:
        query = query.where(OutboxEvent.type == type)
    return list(session.scalars(query))


def eventually(check, timeout=10.0, interval=0.05, message="condition not met in time"):
    """Call check until it returns a truthy value or the deadline passes; return that value."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"{message} (after {timeout}s)") from last_error


def postgres_url():
    """ENRS_TEST_DATABASE_URL, the PostgreSQL server tests should use, or None."""
    return os.environ.get("ENRS_TEST_DATABASE_URL") or None


def fresh_postgres_database(base_url, prefix):
    """Create an empty PostgreSQL database for one test run and return its URL."""
    url = sa.engine.make_url(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url):
    url = sa.engine.make_url(url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def database_url(tmp_path, prefix):
    """A fresh database for a test: on PostgreSQL when configured, else a SQLite file."""
    base = postgres_url()
    if base:
        return fresh_postgres_database(base, prefix)
    return f"sqlite:///{tmp_path / (prefix + '.db')}"
