"""Discovery, the published keys, key rotation and the client registration command."""

import base64
import datetime as dt

import jwt
import pytest
import sqlalchemy as sa
from cryptography.fernet import InvalidToken as UndecryptableKey
from identity.oauth import keys
from identity.oauth.models import OAuthClient, SigningKey
from servicekit import auth, db
from servicekit.models import utcnow

WORKER = "records-bridge-worker"
WORKER_SECRET = "records-bridge-secret-0123456789abcdef"


@pytest.fixture
def settings(settings):
    """identity verifying the tokens it signs itself, as in production (no test key store)."""
    own = dict(settings)
    own.pop("TOKEN_KEYS")
    return own


@pytest.fixture
def db_session(app):
    """A session for checking rows outside any app context (see test_oauth.py)."""
    session = db.database(app).session_factory()
    yield session
    session.close()


@pytest.fixture
def records_bridge_worker(runner):
    """A service client that gets tokens by client credentials."""
    result = runner.invoke(
        args=["client", "create", WORKER, "--secret-stdin", "--grant", "client_credentials"],
        input=WORKER_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    return WORKER


def service_token(client):
    auth_value = base64.b64encode(f"{WORKER}:{WORKER_SECRET}".encode()).decode()
    response = client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {auth_value}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["access_token"]


def published_kids(client):
    return [key["kid"] for key in client.get("/jwks.json").get_json()["keys"]]


def verify_as_identity(app, token):
    with app.test_request_context():
        return auth.verifier(app).verify(token)


def test_discovery_describes_the_provider(app, client):
    response = client.get("/.well-known/openid-configuration")
    metadata = response.get_json()
    issuer = app.config["OIDC_ISSUER"]
    assert response.status_code == 200 and metadata["issuer"] == issuer
    for name, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
        ("revocation_endpoint", "/revoke"),
        ("end_session_endpoint", "/logout"),
    ]:
        assert metadata[name] == issuer + path
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert {"openid", "profile", "email", "offline_access", "roles"} <= set(
        metadata["scopes_supported"]
    )
    assert {"sid", "roles", "rpps", "acr"} <= set(metadata["claims_supported"])
    assert metadata["backchannel_logout_supported"] is True
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


def test_the_first_key_is_created_on_first_use(client, db_session):
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 0
    assert len(published_kids(client)) == 1
    assert len(published_kids(client)) == 1
    assert db_session.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 1


def test_the_jwks_holds_public_rsa_keys_only(client):
    [jwk] = client.get("/jwks.json").get_json()["keys"]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig" and jwk["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    assert jwt.algorithms.RSAAlgorithm.from_jwk(jwk).key_size >= 2048


def test_a_private_key_is_stored_encrypted_with_the_secret_key(app, client, db_session):
    published_kids(client)
    row = db_session.scalar(sa.select(SigningKey))
    assert "PRIVATE KEY" not in row.private_key_encrypted
    keys._private_keys.pop(row.kid, None)
    with pytest.raises(UndecryptableKey):
        keys.private_key(row, "another-secret-key-0123456789abcdef")
    assert keys.private_key(row, app.config["SECRET_KEY"]).key_size >= 2048


def test_rotation_keeps_tokens_signed_before_it_verifiable(
    app, client, runner, records_bridge_worker
):
    before = service_token(client)
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    new_kid = result.output.strip()
    after = service_token(client)
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    assert jwt.get_unverified_header(before)["kid"] != new_kid
    assert set(published_kids(client)) == {
        new_kid,
        jwt.get_unverified_header(before)["kid"],
    }
    assert verify_as_identity(app, before)["sub"] == WORKER
    assert verify_as_identity(app, after)["sub"] == WORKER


def test_a_key_rotated_by_another_process_signs_here_within_seconds(
    app, client, db_session, records_bridge_worker
):
    current = keys.current_kid_cache(app)
    now = [1000.0]
    current.clock = lambda: now[0]
    published_kids(client)  # the first key, created on first use
    before = service_token(client)
    # Another process rotates: nothing clears this process's cached kid.
    new_kid = keys.rotate(db_session, app.config["SECRET_KEY"]).kid
    db_session.commit()
    meanwhile = service_token(client)
    assert jwt.get_unverified_header(meanwhile)["kid"] == jwt.get_unverified_header(before)["kid"]
    assert verify_as_identity(app, meanwhile)["sub"] == WORKER  # the retired key is published
    now[0] += current.seconds
    assert jwt.get_unverified_header(service_token(client))["kid"] == new_kid
    assert keys.CURRENT_KID_SECONDS < keys.RETENTION_MARGIN


def test_a_key_retired_long_ago_is_no_longer_published(client, runner, db_session):
    old_kid = published_kids(client)[0]
    runner.invoke(args=["keys", "rotate"])
    old = db_session.scalar(sa.select(SigningKey).where(SigningKey.kid == old_kid))
    old.retired_at = utcnow() - dt.timedelta(days=1)
    db_session.commit()
    assert old_kid not in published_kids(client)
    assert len(published_kids(client)) == 1


def test_identity_refuses_a_token_with_a_kid_it_never_published(app, records_bridge_worker):
    with app.test_request_context(), pytest.raises(auth.InvalidToken):
        keys.LocalKeySet().key("never-published")


def test_client_create_is_idempotent_and_updates_the_client(runner, db_session):
    for uri in (
        "http://127.0.0.1:8000/auth/callback",
        "https://portail.enrs.example/auth/callback",
    ):
        result = runner.invoke(
            args=[
                *("client", "create", "portal", "--secret-stdin", "--redirect-uri", uri),
                *("--grant", "authorization_code", "--grant", "refresh_token"),
                *(
                    "--backchannel-logout-uri",
                    "https://portail.enrs.example/auth/backchannel-logout",
                ),
            ],
            input="portal-secret-0123456789abcdefghijkl\n",
        )
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "portal"
    [client] = db_session.scalars(sa.select(OAuthClient)).all()
    assert client.redirect_uris == ["https://portail.enrs.example/auth/callback"]
    assert client.check_client_secret("portal-secret-0123456789abcdefghijkl")
    assert "portal-secret" not in client.secret_hash


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["--secret-stdin", "--grant", "client_credentials"], "short\n"),
        (["--grant", "password"], ""),
        (["--grant", "implicit", "--redirect-uri", "https://a.example/cb"], ""),
        (["--grant", "authorization_code"], ""),
        (["--grant", "authorization_code", "--redirect-uri", "https://a.example/cb#frag"], ""),
        (["--grant", "authorization_code", "--redirect-uri", "javascript:alert(1)"], ""),
        (["--grant", "client_credentials"], ""),
        (["--secret-stdin", "--grant", "client_credentials", "--role", "superuser"], "s" * 40),
        (
            [
                "--grant",
                "authorization_code",
                "--redirect-uri",
                "https://a.example/cb",
                "--scope",
                "admin",
            ],
            "",
        ),
    ],
)
def test_client_create_refuses_unsafe_settings(runner, db_session, args, stdin):
    result = runner.invoke(args=["client", "create", "someone", *args], input=stdin)
    assert result.exit_code != 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OAuthClient)) == 0
