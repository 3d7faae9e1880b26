"""identity run for real (gunicorn, two workers): other services verify its tokens over HTTP."""

import base64
import json
import urllib.parse
import urllib.request

import jwt
import pytest
from servicekit.auth import KeySet, TokenVerifier
from servicekit.testing import ServiceProcess, free_port

WORKER = "secure-messaging-worker"
WORKER_SECRET = "secure-messaging-secret-0123456789abcdef"

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


def test_tokens_signed_before_a_key_rotation_still_verify_after_it(identity_service):
    before = service_token(identity_service)
    new_kid = identity_service.flask("keys", "rotate").strip()
    after = service_token(identity_service)
    assert (
        jwt.get_unverified_header(after)["kid"]
        == new_kid
        != jwt.get_unverified_header(before)["kid"]
    )
    verifier = services_verifier(identity_service)
    assert verifier.verify(before)["sub"] == WORKER
    assert verifier.verify(after)["sub"] == WORKER
