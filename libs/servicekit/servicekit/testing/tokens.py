"""Access tokens like identity's, signed by a test key served on a loopback JWKS endpoint."""

import http.server
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from servicekit.testing.common import LoopbackServer

TEST_ISSUER = "http://127.0.0.1/test-issuer"
TEST_AUDIENCE = "enrs-api"


class SigningKey:
    """An RSA key pair with a kid, able to sign tokens and to show itself as a JWK."""

    def __init__(self, kid=None):
        self.kid = kid or uuid.uuid4().hex[:16]
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self):
        """The public key as a JWK, as identity publishes it."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return jwk

    def sign(self, claims, headers=None):
        """A JWT of claims signed RS256 with this key; header typ at+jwt unless replaced."""
        header = {"kid": self.kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=header)


class JwksServer(LoopbackServer):
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

        super().__init__(Handler)
        self.url += "/jwks.json"


class TokenFactory:
    """Makes access tokens like identity's, signed with a test key."""

    def __init__(self, key, issuer=TEST_ISSUER, audience=TEST_AUDIENCE):
        self.key = key
        self.issuer = issuer
        self.audience = audience

    def claims(self, sub="user-1", roles=(), scope="openid", lifetime=300, **extra):
        """The claims identity puts in an access token; keyword arguments add or replace."""
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
