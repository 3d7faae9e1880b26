"""Test helpers shared by every service: tokens signed by a test key served on a real JWKS
endpoint, outbox reading, per-test databases (SQLite, or PostgreSQL when ENRS_TEST_DATABASE_URL
is set), and polling with a deadline instead of sleeping."""

import http.server
import json
import os
import socket
import subprocess
import sys
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
            def do_GET(self):
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


class ServiceProcess:
    """A service run for real: `flask migrate` then gunicorn on a loopback port, until stopped.

    ServiceProcess("identity", env={...}) runs `identity:create_app()`; `url` is its base URL.
    The process gets the current environment plus `env`; its output goes to `log_path`.
    """

    def __init__(self, package, env, port=None, workers=1, log_path=None, migrate=True):
        self.package = package
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.workers = workers
        self.log_path = log_path
        self.migrate = migrate
        self.process = None
        self._log = None

    def flask(self, *args, input=None):
        """Run a `flask --app <package>` command in the service's environment; its stdout."""
        # our own interpreter and a fixed argument list, no shell
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", self.package, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout

    def start(self, timeout=30):
        if self.migrate:
            self.flask("migrate")
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                f"{self.package}:create_app()",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--graceful-timeout",
                "5",
            ],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        eventually(
            self._healthy,
            timeout=timeout,
            interval=0.1,
            message=f"{self.package} did not answer /healthz",
        )
        return self

    def _healthy(self):
        import urllib.request

        if self.process.poll() is not None:
            raise RuntimeError(f"{self.package} exited with code {self.process.returncode}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log not in (None, -3) and hasattr(self._log, "close"):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
