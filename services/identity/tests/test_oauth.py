"""The OpenID provider: code flow with PKCE, refresh rotation, client credentials, revocation."""

import base64
import datetime as dt
import html
import re
import secrets
import urllib.parse
import uuid

import jwt
import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from identity.models import LoginSession, User
from identity.oauth import tokens as issuing
from identity.oauth.models import (
    AuthorizationCode,
    IssuedAccessToken,
    OAuthClient,
    RefreshToken,
    hash_secret,
)
from servicekit import db
from servicekit.auth import InvalidToken, TokenVerifier
from servicekit.models import AuditEntry, utcnow
from servicekit.testing import emitted

PORTAL = "portal"
PORTAL_SECRET = "portal-secret-for-tests-0123456789"
REDIRECT = "http://127.0.0.1:8000/auth/callback"
SERVICE = "telemedicine-worker"
SERVICE_SECRET = "worker-secret-for-tests-0123456789"
RFC6749_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}


@pytest.fixture
def settings(settings):
    """identity verifying the tokens it signs itself, as in production (no test key store)."""
    own = dict(settings)
    own.pop("TOKEN_KEYS")
    own["ACCESS_TOKEN_LIFETIME"] = 300
    return own


@pytest.fixture
def db_session(app):
    """A session for arranging and checking rows, outside any app context.

    The shared fixture keeps an app context pushed, which the test client would then reuse for
    every request (one `g`, one request session for the whole test); production never does that.
    """
    session = db.database(app).session_factory()
    yield session
    session.close()


@pytest.fixture
def portal(runner):
    """The portal, registered as a confidential client with the authorization code grant."""
    result = runner.invoke(
        args=[
            *("client", "create", PORTAL, "--secret-stdin", "--redirect-uri", REDIRECT),
            *("--post-logout-redirect-uri", "http://127.0.0.1:8000/"),
            *("--grant", "authorization_code", "--grant", "refresh_token"),
        ],
        input=PORTAL_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    return PORTAL


@pytest.fixture
def telemedicine_worker(runner):
    """A service calling other services with its own token (client credentials)."""
    result = runner.invoke(
        args=[
            *("client", "create", SERVICE, "--secret-stdin", "--grant", "client_credentials"),
            *("--scope", "roles", "--role", "stroke-requester"),
        ],
        input=SERVICE_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    return SERVICE


def basic(client_id=PORTAL, secret=PORTAL_SECRET):
    value = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


class Flow:
    """A relying party going through the code flow with PKCE, through a signed-in browser."""

    def __init__(self, client):
        self.client = client
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)

    def params(self, **overrides):
        params = {
            "response_type": "code",
            "client_id": PORTAL,
            "redirect_uri": REDIRECT,
            "scope": "openid profile email offline_access roles",
            "state": "etat-123",
            "nonce": self.nonce,
            "code_challenge": create_s256_code_challenge(self.verifier),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {name: value for name, value in params.items() if value is not None}

    def authorize(self, **overrides):
        return self.client.get("/authorize?" + urllib.parse.urlencode(self.params(**overrides)))

    def code(self, **overrides):
        response = self.authorize(**overrides)
        assert response.status_code == 302, response.get_data(as_text=True)
        location = urllib.parse.urlsplit(response.headers["Location"])
        query = dict(urllib.parse.parse_qsl(location.query))
        assert query["state"] == "etat-123"
        return query["code"]

    def exchange(self, code, verifier=None, headers=None, **form):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier or self.verifier,
            **form,
        }
        return self.client.post(
            "/token", data=data, headers=basic() if headers is None else headers
        )

    def tokens(self):
        response = self.exchange(self.code())
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def refresh(self, refresh_token):
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.client.post("/token", data=data, headers=basic())


@pytest.fixture
def gp_flow(browser, client, gp, portal):
    """The GP signed in at identity, ready to go through the portal's code flow."""
    assert browser.sign_in(gp).status_code == 302
    return Flow(client)


class JwksKeys:
    """A verifier key store built from identity's published /jwks.json, as other services see it."""

    def __init__(self, client):
        self.jwk_set = jwt.PyJWKSet.from_dict(client.get("/jwks.json").get_json())

    def key(self, kid):
        for jwk in self.jwk_set.keys:
            if jwk.key_id == kid:
                return jwk.key
        raise InvalidToken("unknown kid")


def verifier(app, client):
    return TokenVerifier(app.config["OIDC_ISSUER"], app.config["OIDC_AUDIENCE"], JwksKeys(client))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
NEXT_FIELD = re.compile(r'name="next" value="([^"]*)"')


def next_field(page):
    """The `next` the sign-in form of page leads to."""
    return html.unescape(NEXT_FIELD.search(page.get_data(as_text=True)).group(1))


def redirected_query(response):
    """The query of a redirect to the portal's redirect URI."""
    location = response.headers["Location"]
    assert response.status_code == 302 and location.startswith(REDIRECT + "?"), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def test_it_shows_the_sign_in_form_to_a_browser_without_a_session(client, db_session, portal):
    response = Flow(client).authorize()
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'action="/login"' in page and 'name="password"' in page
    next_url = next_field(response)
    assert next_url.startswith("/authorize?") and "code_challenge=" in next_url
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuthorizationCode)) == 0


def test_the_sign_in_form_shown_by_authorize_leads_straight_to_the_client_with_a_code(
    client, gp, portal
):
    flow = Flow(client)
    page = flow.authorize()
    form = {
        "csrf_token": CSRF_FIELD.search(page.get_data(as_text=True)).group(1),
        "username": gp.username,
        "password": gp.password,
        "code": gp.code(),
        "next": next_field(page),
    }
    query = redirected_query(client.post("/login", data=form))
    assert query["state"] == "etat-123"
    tokens = flow.exchange(query["code"]).get_json()
    assert set(tokens) >= {"access_token", "id_token", "refresh_token", "expires_in"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] <= 300
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == flow.nonce and claims["sub"] == gp.id


def test_a_sign_in_whose_authorization_request_fails_goes_to_it_to_show_the_error(
    browser, client, gp, portal
):
    flow = Flow(client)
    next_url = "/authorize?" + urllib.parse.urlencode(flow.params(redirect_uri=REDIRECT + "x"))
    signed_in = browser.sign_in(gp, next_url=next_url)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == next_url
    assert client.get(next_url).status_code == 400


def test_a_sign_in_leading_elsewhere_on_identity_redirects_there(browser, gp):
    signed_in = browser.sign_in(gp, next_url="/")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"


def test_its_access_tokens_pass_the_services_token_verifier(app, client, gp, gp_flow):
    tokens = gp_flow.tokens()
    claims = verifier(app, client).verify(tokens["access_token"])
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]
    assert claims["sub"] == gp.id and claims["aud"] == "enrs-api"
    assert claims["roles"] == ["clinician"] and claims["rpps"] == "10001234567"
    assert claims["client_id"] == PORTAL and claims["acr"] == "mfa" and claims["sid"]
    assert claims["exp"] - claims["iat"] <= 300 and claims["jti"]
    assert set(claims["scope"].split()) == {"openid", "profile", "email", "offline_access", "roles"}


def test_its_id_token_is_for_the_client_and_carries_the_nonce(app, client, gp, gp_flow):
    tokens = gp_flow.tokens()
    header = jwt.get_unverified_header(tokens["id_token"])
    assert header["typ"] == "JWT" and header["kid"]
    key = JwksKeys(client).key(header["kid"])
    claims = jwt.decode(
        tokens["id_token"],
        key,
        algorithms=["RS256"],
        audience=PORTAL,
        issuer=app.config["OIDC_ISSUER"],
    )
    assert claims["sub"] == gp.id and claims["nonce"] == gp_flow.nonce
    assert claims["given_name"] == "Claire" and claims["family_name"] == "Martin"
    assert claims["name"] == "Claire Martin" and claims["preferred_username"] == gp.username
    assert claims["acr"] == "mfa" and claims["sid"] and claims["auth_time"] <= claims["iat"]
    with pytest.raises(InvalidToken):
        verifier(app, client).verify(tokens["id_token"])


@pytest.mark.parametrize(
    "redirect_uri",
    [
        REDIRECT + "/",
        "http://127.0.0.1:8001/auth/callback",
        REDIRECT + "?next=/admin",
        "http://127.0.0.1:8000/AUTH/callback",
        "HTTP://127.0.0.1:8000/auth/callback",
        "http://127.0.0.1:8000/auth/call",
        "http://127.0.0.1:8000/auth/callback.evil.example",
        "https://evil.example/auth/callback",
    ],
)
def test_it_refuses_a_redirect_uri_that_is_not_registered_exactly(gp_flow, redirect_uri):
    response = gp_flow.authorize(redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Demande refusée" in response.get_data(as_text=True)


def test_it_refuses_an_authorization_request_without_a_redirect_uri(gp_flow):
    response = gp_flow.authorize(redirect_uri=None)
    assert response.status_code == 400 and "Location" not in response.headers


def test_it_refuses_an_unknown_client_without_redirecting(gp_flow):
    response = gp_flow.authorize(client_id="intruder")
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize(
    "pkce",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge": "too-short"},
    ],
    ids=["missing", "method-missing", "plain", "malformed"],
)
def test_it_refuses_an_authorization_request_without_an_s256_challenge(gp_flow, pkce):
    response = gp_flow.authorize(**pkce)
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    assert location._replace(query="").geturl() == REDIRECT
    assert query["error"] == "invalid_request" and query["state"] == "etat-123"
    assert "code" not in query


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token", "code id_token"])
def test_it_has_no_implicit_or_hybrid_flow(gp_flow, response_type):
    response = gp_flow.authorize(response_type=response_type)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))
    assert query["error"] == "unsupported_response_type" and "code" not in query


def test_it_refuses_a_wrong_code_verifier(gp_flow):
    response = gp_flow.exchange(gp_flow.code(), verifier=secrets.token_urlsafe(48))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_it_refuses_a_token_request_with_another_redirect_uri(gp_flow):
    response = gp_flow.exchange(gp_flow.code(), redirect_uri=REDIRECT + "/")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_replayed_code_is_refused_and_revokes_the_first_tokens(gp_flow, client):
    code = gp_flow.code()
    first = gp_flow.exchange(code).get_json()
    assert client.get("/userinfo", headers=bearer(first["access_token"])).status_code == 200
    replay = gp_flow.exchange(code)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(first["access_token"])).status_code == 401
    assert gp_flow.refresh(first["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_replayed_code_also_revokes_the_tokens_refreshed_since(gp_flow, client):
    code = gp_flow.code()
    first = gp_flow.exchange(code).get_json()
    refreshed = gp_flow.refresh(first["refresh_token"]).get_json()
    assert gp_flow.exchange(code).status_code == 400
    assert gp_flow.refresh(refreshed["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(refreshed["access_token"])).status_code == 401


def test_a_code_older_than_sixty_seconds_is_refused(gp_flow, db_session):
    code = gp_flow.code()
    row = db_session.scalar(sa.select(AuthorizationCode))
    assert row.expires_at - row.created_at <= dt.timedelta(seconds=60)
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db_session.commit()
    response = gp_flow.exchange(code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_code_is_stored_hashed(gp_flow, db_session):
    code = gp_flow.code()
    row = db_session.scalar(sa.select(AuthorizationCode))
    assert code not in row.code_hash and len(row.code_hash) == 64


def test_a_refresh_rotates_the_refresh_token(gp_flow, db_session, gp):
    first = gp_flow.tokens()
    response = gp_flow.refresh(first["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert gp_flow.refresh(second["refresh_token"]).status_code == 200
    rows = db_session.scalars(sa.select(RefreshToken).order_by(RefreshToken.id)).all()
    assert len({row.family_id for row in rows}) == 1 and rows[1].parent_id == rows[0].id
    refreshed = emitted(db_session, "fr.enrs.identity.token.refreshed")
    assert [event.data for event in refreshed] == 2 * [
        {"user_id": gp.id, "username": gp.username, "client_id": PORTAL}
    ]
    audited = db_session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "token.refreshed")
    ).all()
    assert [entry.actor for entry in audited] == [gp.id, gp.id]


def test_a_refreshed_access_token_speaks_for_the_same_user_and_session(app, client, gp_flow, gp):
    first = gp_flow.tokens()
    refreshed = gp_flow.refresh(first["refresh_token"]).get_json()
    before = verifier(app, client).verify(first["access_token"])
    after = verifier(app, client).verify(refreshed["access_token"])
    same = ("sub", "roles", "rpps", "sid", "acr", "client_id", "scope")
    assert [after[name] for name in same] == [before[name] for name in same]
    assert after["sub"] == gp.id and after["jti"] != before["jti"]
    userinfo = client.get("/userinfo", headers=bearer(refreshed["access_token"]))
    assert userinfo.status_code == 200 and userinfo.get_json()["preferred_username"] == gp.username


def test_a_reused_refresh_token_revokes_its_whole_family(gp_flow, db_session, gp, client):
    first = gp_flow.tokens()
    second = gp_flow.refresh(first["refresh_token"]).get_json()
    reuse = gp_flow.refresh(first["refresh_token"])
    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    assert gp_flow.refresh(second["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(second["access_token"])).status_code == 401
    detected = emitted(db_session, "fr.enrs.identity.token.reuse-detected")
    assert [event.data["user_id"] for event in detected] == [gp.id]


def test_a_reused_refresh_token_issues_nothing(gp_flow, db_session):
    first = gp_flow.tokens()
    gp_flow.refresh(first["refresh_token"])
    issued = db_session.scalar(sa.select(sa.func.count()).select_from(RefreshToken))
    assert gp_flow.refresh(first["refresh_token"]).status_code == 400
    db_session.expire_all()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(RefreshToken)) == issued
    assert len(emitted(db_session, "fr.enrs.identity.token.refreshed")) == 1


def test_a_token_used_by_another_refresh_after_this_one_read_it_is_a_reuse(
    gp_flow, db_session, monkeypatch
):
    first = gp_flow.tokens()
    issued = db_session.scalar(sa.select(sa.func.count()).select_from(RefreshToken))
    real_sign = issuing.sign

    def sign_after_a_concurrent_refresh(claims, token_type, db_session=None):
        # Another request marks the token used while this one signs its successor.
        table = RefreshToken.__table__
        db.session().connection().execute(table.update().values(used_at=utcnow()))
        return real_sign(claims, token_type, db_session)

    monkeypatch.setattr(issuing, "sign", sign_after_a_concurrent_refresh)
    response = gp_flow.refresh(first["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    db_session.expire_all()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(RefreshToken)) == issued
    assert emitted(db_session, "fr.enrs.identity.token.refreshed") == []
    assert len(emitted(db_session, "fr.enrs.identity.token.reuse-detected")) == 1
    revoked = db_session.scalars(sa.select(RefreshToken.revoked_at)).all()
    assert revoked and all(at is not None for at in revoked)


def test_a_refresh_marks_its_token_used_with_the_writes_in_one_statement_on_postgresql(
    app, gp_flow
):
    first = gp_flow.tokens()
    engine = db.database(app).engine
    sent = []

    def keep(_conn, _cursor, statement, *_args):
        sent.append(statement.lstrip().split(None, 1)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        assert gp_flow.refresh(first["refresh_token"]).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    if engine.dialect.name == "postgresql":
        # The token, its user and session read at once; the claim and the writes, one WITH.
        assert sent == ["SELECT", "WITH"]
    else:
        assert sent == ["SELECT", "UPDATE", "INSERT", "INSERT", "INSERT", "INSERT"]


def test_a_disabled_users_refresh_is_refused(gp_flow, db_session, gp):
    tokens = gp_flow.tokens()
    db_session.get(User, uuid.UUID(gp.id)).disabled = True
    db_session.commit()
    response = gp_flow.refresh(tokens["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_revoking_a_users_tokens_revokes_every_one_refreshed_ones_too(gp_flow, db_session, gp):
    first, second = gp_flow.tokens(), Flow(gp_flow.client).tokens()
    second = gp_flow.refresh(second["refresh_token"]).get_json()
    user_id = uuid.UUID(gp.id)

    issuing.revoke_user_tokens(db_session, user_id)
    db_session.commit()

    for model in (RefreshToken, IssuedAccessToken):
        rows = db_session.scalars(sa.select(model).where(model.user_id == user_id)).all()
        assert len(rows) == 3 and all(row.revoked_at is not None for row in rows)
    for refresh_token in (first["refresh_token"], second["refresh_token"]):
        assert gp_flow.refresh(refresh_token).status_code == 400


def _revoke_user(db_session, gp, token):
    issuing.revoke_user_tokens(db_session, uuid.UUID(gp.id))


def _revoke_family(db_session, gp, token):
    issuing.revoke_family(db_session, token.family_id)


def _revoke_code(db_session, gp, token):
    issuing.revoke_code_tokens(db_session, token.code_id)


@pytest.mark.parametrize("revoke", [_revoke_user, _revoke_family, _revoke_code])
def test_a_revocation_reads_no_whole_token_table(app, gp_flow, db_session, gp, revoke):
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plans (PostgreSQL's planner scans a table this small)")
    gp_flow.tokens()
    token = db_session.scalars(sa.select(RefreshToken)).one()
    engine = db.database(app).engine
    updates = []

    def keep(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        revoke(db_session, gp, token)
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    tables = {re.match(r"\s*UPDATE (\w+)", statement).group(1) for statement, _ in updates}
    assert tables == {"oauth_refresh_tokens", "oauth_access_tokens"}
    for statement, parameters in updates:
        explained = "EXPLAIN QUERY PLAN " + statement
        steps = [row[-1] for row in db_session.connection().exec_driver_sql(explained, parameters)]
        assert not [step for step in steps if step.startswith("SCAN oauth_")], steps
    assert db_session.scalars(sa.select(RefreshToken.revoked_at)).one() is not None
    db_session.rollback()


def test_an_authorization_request_looks_its_nonce_up_once(app, gp_flow):
    engine = db.database(app).engine
    lookups = []

    def keep(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "nonce" in statement:
            lookups.append(statement)

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        gp_flow.code()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    assert len(lookups) == 1


def test_a_nonce_cannot_be_used_twice(gp_flow):
    gp_flow.code()
    response = gp_flow.authorize()
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))
    assert query["error"] == "invalid_request" and "code" not in query


def test_a_refresh_token_of_another_client_is_refused(gp_flow, client, telemedicine_worker):
    tokens = gp_flow.tokens()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    response = client.post("/token", data=data, headers=basic(SERVICE, SERVICE_SECRET))
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_grant", "unauthorized_client"}
    assert gp_flow.refresh(tokens["refresh_token"]).status_code == 200


def test_no_refresh_token_without_offline_access(gp_flow):
    response = gp_flow.exchange(gp_flow.code(scope="openid profile"))
    assert response.status_code == 200 and "refresh_token" not in response.get_json()


def test_a_service_gets_a_token_with_its_roles_by_client_credentials(
    app, client, telemedicine_worker
):
    response = client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(SERVICE, SERVICE_SECRET)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert "refresh_token" not in body
    claims = verifier(app, client).verify(body["access_token"])
    assert claims["sub"] == SERVICE and claims["client_id"] == SERVICE
    assert claims["roles"] == ["stroke-requester"]


def test_a_service_token_never_reads_userinfo_even_named_after_a_user(client, runner, gp):
    # Service tokens are not stored for revocation: userinfo must refuse them outright.
    result = runner.invoke(
        args=[
            *("client", "create", gp.id, "--secret-stdin", "--grant", "client_credentials"),
            *("--scope", "openid profile"),
        ],
        input=SERVICE_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    response = client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(gp.id, SERVICE_SECRET)
    )
    token = response.get_json()["access_token"]
    assert client.get("/userinfo", headers=bearer(token)).status_code == 401


def service_roles(app, client):
    response = client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(SERVICE, SERVICE_SECRET)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return verifier(app, client).verify(response.get_json()["access_token"])["roles"]


def test_a_client_changed_by_the_command_is_used_changed_at_once(
    app, client, runner, telemedicine_worker
):
    assert service_roles(app, client) == ["stroke-requester"]
    result = runner.invoke(
        args=[
            *("client", "create", SERVICE, "--secret-stdin", "--grant", "client_credentials"),
            *("--scope", "roles", "--role", "rcp-member"),
        ],
        input=SERVICE_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    assert service_roles(app, client) == ["rcp-member"]


def test_a_client_changed_by_another_process_is_used_changed_within_seconds(
    app, client, db_session, telemedicine_worker
):
    clients = app.extensions["identity.oauth"].clients
    now = [1000.0]
    clients.clock = lambda: now[0]
    assert service_roles(app, client) == ["stroke-requester"]
    row = db_session.scalar(sa.select(OAuthClient).where(OAuthClient.client_id == SERVICE))
    row.roles = ["rcp-member"]
    db_session.commit()
    assert service_roles(app, client) == ["stroke-requester"]
    now[0] += clients.seconds
    assert service_roles(app, client) == ["rcp-member"]


def test_an_unknown_client_is_looked_up_again_once_registered(client, db_session):
    response = client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(SERVICE, SERVICE_SECRET)
    )
    assert response.status_code == 401
    # Registered by another process: nothing clears this process's cache.
    db_session.add(
        OAuthClient(
            client_id=SERVICE,
            secret_hash=hash_secret(SERVICE_SECRET),
            grant_types=["client_credentials"],
            scope="roles",
        )
    )
    db_session.commit()
    response = client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(SERVICE, SERVICE_SECRET)
    )
    assert response.status_code == 200


def test_client_credentials_need_the_right_secret(client, telemedicine_worker):
    response = client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(SERVICE, "wrong" * 8)
    )
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_the_portal_may_not_use_client_credentials(client, portal):
    response = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic())
    assert response.status_code == 400 and response.get_json()["error"] == "unauthorized_client"


def test_userinfo_tells_who_the_token_is_for(gp_flow, client, gp):
    tokens = gp_flow.tokens()
    response = client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.get_json() == {
        "sub": gp.id,
        "name": "Claire Martin",
        "given_name": "Claire",
        "family_name": "Martin",
        "preferred_username": gp.username,
        "email": f"{gp.username}@example.org",
        "roles": ["clinician"],
        "rpps": "10001234567",
    }


def test_userinfo_refuses_a_request_without_a_token(client):
    response = client.get("/userinfo")
    assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]


def test_a_revoked_refresh_token_no_longer_refreshes(gp_flow, client):
    tokens = gp_flow.tokens()
    data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    assert client.post("/revoke", data=data, headers=basic()).status_code == 200
    assert gp_flow.refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_revoked_access_token_no_longer_reads_userinfo(gp_flow, client):
    tokens = gp_flow.tokens()
    data = {"token": tokens["access_token"], "token_type_hint": "access_token"}
    assert client.post("/revoke", data=data, headers=basic()).status_code == 200
    assert client.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_revoking_an_unknown_token_answers_200(client, portal):
    response = client.post("/revoke", data={"token": "nothing-like-a-token"}, headers=basic())
    assert response.status_code == 200


def test_revocation_needs_the_client_to_authenticate(gp_flow, client):
    tokens = gp_flow.tokens()
    response = client.post("/revoke", data={"token": tokens["refresh_token"]})
    assert response.status_code in (400, 401) and response.get_json()["error"] == "invalid_client"
    assert gp_flow.refresh(tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({}, None),
        ({"grant_type": "password", "username": "x", "password": "y"}, None),
        ({"grant_type": "implicit"}, None),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, None),
        ({"grant_type": "authorization_code"}, None),
        ({"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT}, None),
        ({"grant_type": "refresh_token"}, None),
        ({"grant_type": "refresh_token", "refresh_token": "x" * 5000}, None),
        ({"grant_type": "authorization_code", "code": "x"}, {"Authorization": "Basic !!!"}),
        ({"grant_type": "authorization_code", "code": "x"}, {"Authorization": "Basic"}),
        ({"grant_type": "client_credentials"}, {"Authorization": "Bearer abc"}),
        ({"grant_type": "client_credentials", "client_id": "ghost", "client_secret": "s"}, {}),
        ({"grant_type": "refresh_token", "refresh_token": "a", "client_id": PORTAL}, {}),
        ({"grant_type": ["authorization_code", "refresh_token"], "code": "x"}, None),
    ],
)
def test_a_malformed_token_request_gets_an_rfc6749_error_never_a_500(client, portal, data, headers):
    response = client.post("/token", data=data, headers=basic() if headers is None else headers)
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"] in RFC6749_ERRORS


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"grant_type": "client_credentials"}', "application/json"),
        ("\x00\xff", "application/x-www-form-urlencoded"),
        ("grant_type=%zz", "application/x-www-form-urlencoded"),
    ],
)
def test_a_token_request_with_a_strange_body_gets_an_rfc6749_error(
    client, portal, body, content_type
):
    response = client.post("/token", data=body, content_type=content_type, headers=basic())
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"] in RFC6749_ERRORS


def test_prompt_none_without_a_session_answers_login_required(client, portal):
    response = Flow(client).authorize(prompt="none")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))
    assert response.headers["Location"].startswith(REDIRECT + "?")
    assert query["error"] == "login_required" and query["state"] == "etat-123"


def test_a_code_presented_by_another_client_is_refused(gp_flow, telemedicine_worker):
    code = gp_flow.code()
    response = gp_flow.exchange(code, headers=basic(SERVICE, SERVICE_SECRET))
    assert response.status_code == 400
    assert response.get_json()["error"] in {"invalid_grant", "unauthorized_client"}
    assert gp_flow.exchange(code).status_code == 200


@pytest.mark.parametrize("reauth", [{"prompt": "login"}, {"max_age": "0"}])
def test_it_asks_a_signed_in_user_to_sign_in_again_when_the_client_requires_it(
    browser, client, gp, gp_flow, reauth
):
    response = gp_flow.authorize(**reauth)
    assert response.status_code == 200
    next_url = next_field(response)
    assert "prompt" not in next_url and "max_age" not in next_url
    signed_in = browser.sign_in(gp, code=gp.code(steps_ahead=1), next_url=next_url)
    assert "code" in redirected_query(signed_in)


def test_the_purge_deletes_only_codes_and_tokens_expired_a_day_ago(
    gp_flow, client, db_session, runner
):
    gp_flow.tokens()
    Flow(client).tokens()
    long_ago = utcnow() - dt.timedelta(days=2)
    for model in (AuthorizationCode, RefreshToken, IssuedAccessToken):
        first = db_session.scalar(sa.select(model).order_by(model.id).limit(1))
        first.expires_at = long_ago
    db_session.commit()
    result = runner.invoke(args=["tokens", "purge"])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    for model in (AuthorizationCode, RefreshToken, IssuedAccessToken):
        remaining = db_session.scalars(sa.select(model)).all()
        assert len(remaining) == 1 and remaining[0].expires_at > long_ago


def test_a_refresh_counts_as_activity_in_the_sign_in_session(gp_flow, db_session):
    tokens = gp_flow.tokens()
    login = db_session.scalar(sa.select(LoginSession))
    login.last_seen_at = utcnow() - dt.timedelta(minutes=20)
    db_session.commit()
    assert gp_flow.refresh(tokens["refresh_token"]).status_code == 200
    db_session.expire_all()
    assert utcnow() - db_session.scalar(sa.select(LoginSession)).last_seen_at < dt.timedelta(
        minutes=1
    )


@pytest.mark.parametrize(
    ("lapse", "reason"),
    [
        ({"last_seen_at": dt.timedelta(minutes=31)}, "idle"),
        ({"expires_at": dt.timedelta(0)}, "expired"),
    ],
)
def test_a_refresh_after_the_sign_in_session_lapsed_is_refused(gp_flow, db_session, lapse, reason):
    tokens = gp_flow.tokens()
    login = db_session.scalar(sa.select(LoginSession))
    for column, ago in lapse.items():
        setattr(login, column, utcnow() - ago)
    db_session.commit()
    response = gp_flow.refresh(tokens["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    db_session.expire_all()
    assert db_session.scalar(sa.select(LoginSession)).end_reason == reason


def issued_count(client, grant_type):
    line_start = f'enrs_identity_tokens_issued_total{{grant_type="{grant_type}"}} '
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(line_start):
            return float(line.removeprefix(line_start))
    return 0.0


def test_metrics_count_the_tokens_issued_by_grant_type(client, telemedicine_worker):
    before = issued_count(client, "client_credentials")
    client.post(
        "/token", data={"grant_type": "client_credentials"}, headers=basic(SERVICE, SERVICE_SECRET)
    )
    assert issued_count(client, "client_credentials") == before + 1
