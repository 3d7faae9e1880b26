"""Token attacks: every forged, stale or misdirected token gets a JSON 401, never a 500."""

import base64
import hashlib
import hmac
import json
import time

import kitapp
import pytest
from cryptography.hazmat.primitives import serialization
from servicekit import auth
from servicekit.testing import SigningKey, TokenFactory

WHOAMI = "/api/v1/whoami"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsigned(header, claims):
    """header.payload of a JWT, for forging signatures by hand."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response, status=401):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], dict)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_it_accepts_a_valid_access_token(client, tokens):
    response = client.get(WHOAMI, headers=tokens.auth_header(sub="gp-1"))
    assert response.status_code == 200
    assert response.get_json() == {"sub": "gp-1"}


def test_it_rejects_a_request_without_a_token(client):
    assert_refused(client.get(WHOAMI))


def test_it_rejects_a_non_bearer_authorization(client):
    assert_refused(client.get(WHOAMI, headers={"Authorization": "Basic Z3A6c2VjcmV0"}))


def test_it_rejects_garbage_in_place_of_a_token(client):
    assert_refused(client.get(WHOAMI, headers=bearer("not.a.jwt")))


def test_it_rejects_a_token_whose_payload_was_tampered_with(client, tokens):
    header, payload, signature = tokens.make_token(roles=["clinician"]).split(".")
    claims = json.loads(unb64(payload))
    claims["roles"] = ["platform-admin"]
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    assert_refused(client.get(WHOAMI, headers=bearer(forged)))


def test_it_rejects_a_token_with_its_signature_stripped(client, tokens):
    header, payload, _signature = tokens.make_token().split(".")
    assert_refused(client.get(WHOAMI, headers=bearer(f"{header}.{payload}.")))


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda s: s[:10] + "!" + s[11:], id="a character outside base64url"),
        pytest.param(lambda s: s[:10] + "+" + s[11:], id="standard base64 in place of base64url"),
        pytest.param(lambda s: s + "==", id="padding"),
        pytest.param(lambda s: s + "AAA", id="a length no base64 has"),
    ],
)
def test_it_rejects_a_signature_segment_that_is_not_base64url(client, tokens, alter):
    header, payload, signature = tokens.make_token().split(".")
    forged = f"{header}.{payload}.{alter(signature)}"
    assert_refused(client.get(WHOAMI, headers=bearer(forged)))


def test_it_rejects_a_signature_written_in_a_non_canonical_form(client, tokens):
    # The last character of a 256-byte signature carries 4 bits and 4 unused ones: flipping an
    # unused bit spells the same signature bytes in a second, non-canonical way.
    header, payload, signature = tokens.make_token().split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last ^ 1]
    assert unb64(twin) == unb64(signature)
    assert_refused(client.get(WHOAMI, headers=bearer(f"{header}.{payload}.{twin}")))


def test_it_rejects_an_unsigned_token_with_alg_none(client, tokens, identity_key):
    header = {"alg": "none", "typ": "at+jwt", "kid": identity_key.kid}
    token = unsigned(header, tokens.claims()) + "."
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_rejects_hs256_signed_with_the_public_key_as_secret(client, tokens, identity_key):
    public_pem = identity_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": identity_key.kid}
    signing_input = unsigned(header, tokens.claims())
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_refused(client.get(WHOAMI, headers=bearer(f"{signing_input}.{b64(mac)}")))


def test_it_rejects_an_expired_token(client, tokens):
    now = int(time.time())
    token = tokens.make_token(iat=now - 900, exp=now - 600)
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_rejects_a_token_not_yet_valid(client, tokens):
    token = tokens.make_token(nbf=int(time.time()) + 600)
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_rejects_a_token_without_an_expiry(client, tokens, identity_key):
    claims = tokens.claims()
    del claims["exp"]
    assert_refused(client.get(WHOAMI, headers=bearer(identity_key.sign(claims))))


def test_it_rejects_a_token_for_another_audience(client, tokens):
    token = tokens.make_token(aud="another-api")
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_rejects_a_token_from_another_issuer(client, tokens):
    token = tokens.make_token(iss="https://attacker.example")
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_rejects_a_token_signed_with_an_unknown_key(client):
    stranger = TokenFactory(SigningKey())
    assert_refused(client.get(WHOAMI, headers=stranger.auth_header()))


def test_it_rejects_an_id_token_used_as_an_access_token(client, tokens):
    token = tokens.make_token(headers={"typ": "JWT"})
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
    ],
    ids=["jku", "x5u", "jwk"],
)
def test_it_rejects_a_token_that_points_to_its_own_keys(client, tokens, header):
    token = tokens.make_token(headers=header)
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_picks_up_a_key_added_to_the_jwks_later(client, tokens, jwks, monkeypatch):
    monkeypatch.setattr(auth, "JWKS_MIN_REFRESH", 0.0)
    assert client.get(WHOAMI, headers=tokens.auth_header()).status_code == 200
    rotated = SigningKey()
    jwks.keys.append(rotated)
    try:
        response = client.get(WHOAMI, headers=TokenFactory(rotated).auth_header(sub="gp-2"))
    finally:
        jwks.keys.remove(rotated)
    assert response.status_code == 200
    assert response.get_json() == {"sub": "gp-2"}


def test_it_refetches_the_jwks_at_most_once_per_interval(client, tokens, jwks, monkeypatch):
    monkeypatch.setattr(auth, "JWKS_MIN_REFRESH", 60.0)
    assert client.get(WHOAMI, headers=tokens.auth_header()).status_code == 200
    fetches = jwks.requests
    for _ in range(5):
        assert_refused(client.get(WHOAMI, headers=TokenFactory(SigningKey()).auth_header()))
    assert jwks.requests == fetches


def test_it_forbids_a_user_without_the_required_role(client, gcs_admin):
    response = client.get("/api/v1/patients/p-1", headers=gcs_admin)
    assert_refused(response, 403)
    assert response.get_json()["details"] == {"required_roles": ["clinician"]}


def test_it_forbids_a_token_without_the_required_scope(client, tokens):
    headers = tokens.auth_header(roles=["clinician"], scope="openid")
    response = client.get("/api/v1/records", headers=headers)
    assert_refused(response, 403)
    assert response.get_json()["details"] == {"required_scopes": ["records:read"]}


def test_it_lets_a_clinician_with_the_scope_through(client, gp):
    assert client.get("/api/v1/records", headers=gp).status_code == 200
    assert client.get("/api/v1/patients/p-1", headers=gp).get_json() == {"patient": "p-1"}


def test_it_never_accepts_a_token_the_verifier_cannot_parse_as_json(client, identity_key):
    header = b64(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": identity_key.kid}).encode())
    token = f"{header}.{b64(b'not json')}.{b64(b'sig')}"
    assert_refused(client.get(WHOAMI, headers=bearer(token)))


def test_it_rejects_a_token_when_the_keys_cannot_be_fetched(settings, tokens, database):
    app = kitapp.create_app({**settings, "OIDC_JWKS_URL": "http://127.0.0.1:9/jwks.json"})
    assert_refused(app.test_client().get(WHOAMI, headers=tokens.auth_header()))
