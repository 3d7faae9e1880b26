"""Logout at the OpenID provider: RP-initiated logout, back-channel logout tokens, disabling."""

import base64
import http.server
import secrets
import threading
import urllib.parse
import uuid

import jwt
import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from identity import service
from identity.models import LoginSession, User
from servicekit import db
from servicekit.testing import eventually, free_port

PORTAL = "portal"
PORTAL_SECRET = "portal-secret-for-tests-0123456789"
REDIRECT = "http://127.0.0.1:8000/auth/callback"
AFTER_LOGOUT = "http://127.0.0.1:8000/"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


class LogoutReceiver:
    """A relying party's back-channel logout endpoint on a real loopback port."""

    def __init__(self):
        self.tokens = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                receiver.tokens.extend(form.get("logout_token", []))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/auth/backchannel-logout"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()


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
def receiver():
    with LogoutReceiver() as receiver:
        yield receiver


def register(runner, client_id, secret, backchannel_uri=None):
    args = [
        *("client", "create", client_id, "--secret-stdin", "--redirect-uri", REDIRECT),
        *("--post-logout-redirect-uri", AFTER_LOGOUT),
        *("--grant", "authorization_code", "--grant", "refresh_token"),
    ]
    if backchannel_uri:
        args += ["--backchannel-logout-uri", backchannel_uri]
    result = runner.invoke(args=args, input=secret + "\n")
    assert result.exit_code == 0, result.output


@pytest.fixture
def portal(runner, receiver):
    """The portal, with its back-channel logout endpoint listening."""
    register(runner, PORTAL, PORTAL_SECRET, receiver.url)
    return receiver


def sign_in_and_get_tokens(browser, client, persona):
    """The persona signs in at identity and the portal gets its tokens (code flow with PKCE)."""
    assert browser.sign_in(persona).status_code == 302
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code",
        "client_id": PORTAL,
        "redirect_uri": REDIRECT,
        "scope": "openid profile offline_access",
        "state": "s",
        "nonce": "n",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    location = client.get("/authorize?" + urllib.parse.urlencode(params)).headers["Location"]
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]
    auth = base64.b64encode(f"{PORTAL}:{PORTAL_SECRET}".encode()).decode()
    response = client.post(
        "/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        | {"code_verifier": verifier},
        headers={"Authorization": f"Basic {auth}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def refresh(client, refresh_token):
    auth = base64.b64encode(f"{PORTAL}:{PORTAL_SECRET}".encode()).decode()
    return client.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": f"Basic {auth}"},
    )


def logout_url(**params):
    return "/logout?" + urllib.parse.urlencode(params)


def sessions_of(db_session, persona):
    db_session.expire_all()
    query = sa.select(LoginSession).where(LoginSession.user_id == uuid.UUID(persona.id))
    return db_session.scalars(query).all()


def verify_with_jwks(client, token, audience):
    jwk_set = jwt.PyJWKSet.from_dict(client.get("/jwks.json").get_json())
    header = jwt.get_unverified_header(token)
    key = next(jwk.key for jwk in jwk_set.keys if jwk.key_id == header["kid"])
    return header, jwt.decode(token, key, algorithms=["RS256"], audience=audience)


def test_rp_initiated_logout_ends_the_session_and_returns_to_the_portal(
    browser, client, db_session, gp, portal
):
    tokens = sign_in_and_get_tokens(browser, client, gp)
    response = client.get(
        logout_url(
            id_token_hint=tokens["id_token"],
            post_logout_redirect_uri=AFTER_LOGOUT,
            state="au-revoir",
        )
    )
    assert response.status_code == 302
    assert response.headers["Location"] == AFTER_LOGOUT + "?state=au-revoir"
    assert [login.end_reason for login in sessions_of(db_session, gp)] == ["logout"]
    assert refresh(client, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    userinfo = client.get(
        "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert userinfo.status_code == 401
    assert client.get("/").headers["Location"].startswith("/login")


def test_logout_with_an_unregistered_uri_ends_the_session_without_redirecting(
    browser, client, db_session, gp, portal
):
    tokens = sign_in_and_get_tokens(browser, client, gp)
    response = client.get(
        logout_url(
            id_token_hint=tokens["id_token"], post_logout_redirect_uri="https://evil.example/"
        )
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Vous êtes déconnecté" in response.get_data(as_text=True)
    assert [login.end_reason for login in sessions_of(db_session, gp)] == ["logout"]


@pytest.mark.parametrize(
    "variant", [AFTER_LOGOUT + "?x=1", AFTER_LOGOUT.rstrip("/"), AFTER_LOGOUT + "/"]
)
def test_logout_redirects_only_to_the_exact_registered_uri(browser, client, gp, portal, variant):
    tokens = sign_in_and_get_tokens(browser, client, gp)
    response = client.get(
        logout_url(id_token_hint=tokens["id_token"], post_logout_redirect_uri=variant)
    )
    assert response.status_code == 200 and "Location" not in response.headers


def test_logout_without_id_token_hint_asks_the_user_first(browser, client, db_session, gp, portal):
    sign_in_and_get_tokens(browser, client, gp)
    page = client.get(logout_url(post_logout_redirect_uri=AFTER_LOGOUT))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Se déconnecter" in html
    assert [login.ended_at for login in sessions_of(db_session, gp)] == [None]
    csrf = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    done = client.post("/logout", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Vous êtes déconnecté" in done.get_data(as_text=True)
    assert [login.end_reason for login in sessions_of(db_session, gp)] == ["logout"]


def test_logout_with_an_id_token_hint_it_did_not_sign_asks_the_user_first(
    browser, client, db_session, gp, portal
):
    sign_in_and_get_tokens(browser, client, gp)
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = jwt.encode(
        {"iss": "x", "aud": PORTAL, "sub": gp.id},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "forged"},
    )
    response = client.get(logout_url(id_token_hint=forged, post_logout_redirect_uri=AFTER_LOGOUT))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Location" not in response.headers
    assert "Se déconnecter" in html and forged not in html
    assert [login.ended_at for login in sessions_of(db_session, gp)] == [None]


def test_logout_sends_a_verifiable_back_channel_logout_token(app, browser, client, gp, portal):
    tokens = sign_in_and_get_tokens(browser, client, gp)
    client.get(logout_url(id_token_hint=tokens["id_token"], post_logout_redirect_uri=AFTER_LOGOUT))
    [logout_token] = eventually(lambda: portal.tokens, timeout=5)
    header, claims = verify_with_jwks(client, logout_token, PORTAL)
    _, id_claims = verify_with_jwks(client, tokens["id_token"], PORTAL)
    assert header["typ"] == "logout+jwt" and header["alg"] == "RS256"
    assert claims["iss"] == app.config["OIDC_ISSUER"] and claims["aud"] == PORTAL
    assert claims["sub"] == gp.id and claims["sid"] == id_claims["sid"]
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims
    assert claims["jti"] and claims["iat"] <= claims["exp"]


def test_only_clients_with_tokens_in_the_session_are_told(browser, client, gp, portal, runner):
    with LogoutReceiver() as directory_admin:
        register(
            runner, "directory-admin", "directory-secret-for-tests-0123456789", directory_admin.url
        )
        tokens = sign_in_and_get_tokens(browser, client, gp)
        client.get(logout_url(id_token_hint=tokens["id_token"]))
        assert eventually(lambda: portal.tokens, timeout=5)
        assert directory_admin.tokens == []


def test_a_back_channel_receiver_that_is_down_does_not_stop_the_logout(
    browser, client, db_session, gp, runner
):
    register(runner, PORTAL, PORTAL_SECRET, f"http://127.0.0.1:{free_port()}/down")
    tokens = sign_in_and_get_tokens(browser, client, gp)
    response = client.get(
        logout_url(id_token_hint=tokens["id_token"], post_logout_redirect_uri=AFTER_LOGOUT)
    )
    assert response.status_code == 302
    assert [login.end_reason for login in sessions_of(db_session, gp)] == ["logout"]


def test_disabling_an_account_revokes_its_tokens_and_logs_its_clients_out(
    app, browser, client, gp, gcs_admin, portal
):
    tokens = sign_in_and_get_tokens(browser, client, gp)
    with app.app_context(), db.sessions() as session:
        service.disable_user(session, gcs_admin.id, session.get(User, uuid.UUID(gp.id)))
    assert refresh(client, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    [logout_token] = eventually(lambda: portal.tokens, timeout=5)
    assert verify_with_jwks(client, logout_token, PORTAL)[1]["sub"] == gp.id


def test_a_logout_that_rolls_back_tells_no_client(app, browser, client, db_session, gp, portal):
    from identity import sessions

    sign_in_and_get_tokens(browser, client, gp)
    with app.app_context(), pytest.raises(RuntimeError), db.sessions() as session:
        [login] = session.scalars(sa.select(LoginSession)).all()
        sessions.end_login_session(session, login, "logout")
        raise RuntimeError("the request failed after the logout")
    assert portal.tokens == []
    assert sessions_of(db_session, gp)[0].ended_at is None
