"""identity run for real (gunicorn, two workers): other services verify its tokens over HTTP."""

import base64
import html
import http.cookiejar
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import jwt
import pyotp
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from identity.oauth import keys
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet as JoseKeySet
from joserfc.jws import JWSRegistry
from servicekit.auth import KeySet, TokenVerifier
from servicekit.testing import ServiceProcess, eventually, free_port

NEUROLOGIST = "ines.haddad"
PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PORTAL_SECRET = "portal-process-secret-0123456789abcdef"
REDIRECT = "http://127.0.0.1:8000/auth/callback"
WORKER = "secure-messaging-worker"
WORKER_SECRET = "secure-messaging-secret-0123456789abcdef"

DEPLOYED_CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "gunicorn.conf.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def identity_service(database, tmp_path_factory):
    """identity under gunicorn on a loopback port, with a service client registered."""
    tmp_path = tmp_path_factory.mktemp("identity-service")
    with database.scratch() as url:
        port = free_port()
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": "identity-process-secret-key-0123456789",
            "OIDC_ISSUER": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
            # The deployed settings (threaded workers, keep-alive), as in the container image.
            "GUNICORN_CMD_ARGS": f"--config {DEPLOYED_CONFIG}",
        }
        process = ServiceProcess(
            "identity", env, port=port, workers=2, log_path=tmp_path / "identity.log", preload=True
        )
        with process:
            process.flask(
                *("client", "create", WORKER, "--secret-stdin", "--grant", "client_credentials"),
                *("--scope", "roles", "--role", "clinician"),
                input=WORKER_SECRET + "\n",
            )
            process.flask(
                *("client", "create", "portal", "--secret-stdin", "--redirect-uri", REDIRECT),
                *("--grant", "authorization_code", "--grant", "refresh_token"),
                input=PORTAL_SECRET + "\n",
            )
            process.flask(
                *("user", "create", NEUROLOGIST, "--role", "stroke-neurologist"),
                *("--given-name", "Inès", "--family-name", "Haddad", "--rpps", "10009876543"),
                *("--totp-secret", TOTP_SECRET, "--password-stdin"),
                input=PASSWORD + "\n",
            )
            yield process


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test URL
        return json.load(response)


def service_token(identity):
    credentials = base64.b64encode(f"{WORKER}:{WORKER_SECRET}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback test URL
        identity.url + "/token",
        data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": f"Basic {credentials}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.load(response)["access_token"]


def services_verifier(identity):
    """The verifier another service builds from identity's discovery document."""
    metadata = get_json(identity.url + "/.well-known/openid-configuration")
    return TokenVerifier(metadata["issuer"], "enrs-api", KeySet(metadata["jwks_uri"]))


def test_a_service_verifies_identity_tokens_with_the_published_keys(identity_service):
    claims = services_verifier(identity_service).verify(service_token(identity_service))
    assert claims["sub"] == WORKER and claims["roles"] == ["clinician"]
    assert claims["iss"] == identity_service.url


def signed_with(token, kid):
    return token if jwt.get_unverified_header(token)["kid"] == kid else None


def test_tokens_signed_before_a_key_rotation_still_verify_after_it(identity_service):
    before = service_token(identity_service)
    new_kid = identity_service.flask("keys", "rotate").strip()
    # Rotated by another process: each worker signs with the new key once its cached kid expires.
    after = eventually(
        lambda: signed_with(service_token(identity_service), new_kid),
        timeout=keys.CURRENT_KID_SECONDS + 5,
        interval=0.2,
        message="the workers kept signing with the retired key",
    )
    assert (
        jwt.get_unverified_header(after)["kid"]
        == new_kid
        != jwt.get_unverified_header(before)["kid"]
    )
    verifier = services_verifier(identity_service)
    assert verifier.verify(before)["sub"] == WORKER
    assert verifier.verify(after)["sub"] == WORKER


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


class BrowserOverHttp:
    """A browser with a cookie jar that stops at every redirect, to read the Location."""

    def __init__(self, base_url):
        self.base_url = base_url
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies, NoRedirect())

    def open(self, path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base_url + path, data=data, timeout=5) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def sign_in(self, path):
        """Fill in the sign-in form the page at path shows, as it stands, and submit it."""
        _status, _headers, page = self.open(path)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        next_url = re.search(r'name="next" value="([^"]*)"', page).group(1)
        form = {
            "csrf_token": csrf,
            "username": NEUROLOGIST,
            "password": PASSWORD,
            "code": pyotp.TOTP(TOTP_SECRET).now(),
            "next": html.unescape(next_url),
        }
        return self.open("/login", form)


def test_a_standard_oidc_client_validates_the_id_token_of_a_real_sign_in(identity_service):
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    authorize = "/authorize?" + urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": "portal",
            "redirect_uri": REDIRECT,
            "scope": "openid profile offline_access roles",
            "state": "etat",
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    browser = BrowserOverHttp(identity_service.url)
    status, headers, _ = browser.sign_in(authorize)
    assert status == 302 and headers["Location"].startswith(REDIRECT + "?code=")
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))["code"]
    tokens = exchange(identity_service, code, verifier)
    metadata = get_json(identity_service.url + "/.well-known/openid-configuration")
    key_set = JoseKeySet.import_key_set(get_json(metadata["jwks_uri"]))
    # What Authlib's OpenID client (the portal's library) checks in parse_id_token.
    decoded = jose_jwt.decode(
        tokens["id_token"], key_set, registry=JWSRegistry(algorithms=["RS256"])
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": [metadata["issuer"]]}},
        {"nonce": nonce, "client_id": "portal", "access_token": tokens["access_token"]},
    )
    claims.validate(leeway=120)
    assert claims["given_name"] == "Inès" and claims["preferred_username"] == NEUROLOGIST
    access = services_verifier(identity_service).verify(tokens["access_token"])
    assert access["roles"] == ["stroke-neurologist"] and access["rpps"] == "10009876543"


def exchange(identity, code, verifier):
    credentials = base64.b64encode(f"portal:{PORTAL_SECRET}".encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    request = urllib.request.Request(  # noqa: S310 - loopback test URL
        identity.url + "/token",
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Basic {credentials}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.load(response)
