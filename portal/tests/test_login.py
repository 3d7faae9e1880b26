"""Login through identity (authorization code + PKCE), the callback, refresh and logout."""

import base64
import contextlib
import hashlib
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from portal.models import PortalSession
from portal.sessions import COOKIE_NAME, token_cipher
from servicekit import db
from servicekit.testing import free_port

from portal import sessions


def _follow_to_authorize(client, path="/"):
    first = client.get(path)
    assert first.status_code == 302
    assert urlsplit(first.headers["Location"]).path == "/auth/login"
    second = client.get(first.headers["Location"])
    assert second.status_code == 302
    return second.headers["Location"]


def _answer_with_tokens(issuer, sub, roles, nonce, lifetime=300):
    def answer(form):
        return 200, {
            "access_token": issuer.tokens.make_token(sub=sub, roles=roles, sid="sid-1"),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "refresh_token": "refresh-1",
            "id_token": issuer.id_token(sub, nonce, given_name="Claire", family_name="Martin"),
            "scope": "openid profile email offline_access roles",
        }

    return answer


@pytest.fixture
def logged_in_gp(client, issuer):
    """A GP who went through the whole login: identity's code exchanged for tokens."""
    authorize = _follow_to_authorize(client)
    query = parse_qs(urlsplit(authorize).query)
    issuer.token_answer = _answer_with_tokens(issuer, "gp-1", ["clinician"], query["nonce"][0])
    response = client.get(f"/auth/callback?code=the-code&state={query['state'][0]}")
    return client, query, response


def test_it_sends_an_anonymous_visitor_to_identity_with_pkce_state_and_nonce(client, issuer):
    authorize = _follow_to_authorize(client, "/profil")
    assert authorize.startswith(f"{issuer.url}/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["portal"]
    assert query["redirect_uri"] == ["http://localhost/auth/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert set(query["scope"][0].split()) == {
        "openid",
        "profile",
        "email",
        "offline_access",
        "roles",
    }
    assert query["state"][0] and query["nonce"][0]


def test_it_exchanges_the_code_with_the_pkce_verifier_and_lands_where_the_user_was_going(
    logged_in_gp, issuer
):
    client, query, response = logged_in_gp
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    exchange = issuer.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code"
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(exchange["code_verifier"].encode()).digest()
    )
    assert challenge.rstrip(b"=").decode() == query["code_challenge"][0]
    assert "Bonjour Claire" in client.get("/").get_data(as_text=True)


def test_it_counts_logins_in_its_metrics(logged_in_gp):
    client, _query, _response = logged_in_gp
    assert 'enrs_portal_logins_total{outcome="ok"}' in client.get("/metrics").get_data(as_text=True)


def test_it_gives_a_new_session_key_at_login(client, issuer):
    authorize = _follow_to_authorize(client)
    before = client.get_cookie("enrs_portal").value
    query = parse_qs(urlsplit(authorize).query)
    issuer.token_answer = _answer_with_tokens(issuer, "gp-1", ["clinician"], query["nonce"][0])
    client.get(f"/auth/callback?code=the-code&state={query['state'][0]}")
    assert client.get_cookie("enrs_portal").value != before


def test_it_refuses_a_callback_with_a_state_it_did_not_issue(client, issuer):
    _follow_to_authorize(client)
    response = client.get("/auth/callback?code=the-code&state=forged")
    assert response.status_code == 400
    assert "Connexion impossible" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_it_refuses_an_id_token_with_another_nonce(client, issuer):
    authorize = _follow_to_authorize(client)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    issuer.token_answer = _answer_with_tokens(issuer, "gp-1", ["clinician"], "another-nonce")
    response = client.get(f"/auth/callback?code=the-code&state={state}")
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_it_shows_a_french_page_when_identity_refuses_the_login(client):
    authorize = _follow_to_authorize(client)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    response = client.get(f"/auth/callback?error=access_denied&state={state}")
    assert response.status_code == 400
    assert "Connexion impossible" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_it_never_sends_the_user_to_another_site_after_login(client, issuer, target):
    response = client.get("/auth/login", query_string={"next": target})
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    issuer.token_answer = _answer_with_tokens(issuer, "gp-1", ["clinician"], query["nonce"][0])
    landed = client.get(f"/auth/callback?code=c&state={query['state'][0]}")
    assert landed.headers["Location"] == "/"


def test_it_ends_the_portal_session_then_logs_out_at_identity(logged_in_gp, csrf_token, issuer):
    client, _query, _response = logged_in_gp
    response = client.post("/auth/logout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{issuer.url}/logout"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/").status_code == 302


def test_it_refreshes_an_expired_access_token_and_keeps_the_rotated_refresh_token(
    client, personas, issuer, app
):
    login = personas.login(client, "gp-1", ["clinician"], expires_in=5)
    issuer.token_answer = lambda form: (
        200,
        {
            "access_token": issuer.tokens.make_token(sub="gp-1", roles=["clinician"]),
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": "rotated-refresh-token",
        },
    )
    issuer.api_requests.clear()
    response = client.get("/profil", headers={"X-Request-ID": "request-0001"})
    assert response.status_code == 200
    refresh = issuer.token_requests[-1]
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token"] == login.refresh_token
    assert issuer.api_requests[-1]["headers"]["X-Request-ID"] == "request-0001"
    with db.sessions(app) as session:
        row = session.scalar(sa.select(PortalSession).where(PortalSession.sub == "gp-1"))
        stored = token_cipher(app.config["SECRET_KEY"]).decrypt(row.refresh_token.encode())
    assert stored == b"rotated-refresh-token"


def test_refreshes_go_to_identity_over_the_connection_kept_from_the_last_one(
    client, personas, issuer
):
    personas.login(client, "gp-1", ["clinician"], expires_in=5)
    rotations = iter(range(1, 100))
    issuer.token_answer = lambda form: (
        200,
        {
            "access_token": issuer.tokens.make_token(sub="gp-1", roles=["clinician"]),
            "token_type": "Bearer",
            "expires_in": 5,  # within the refresh margin: every page refreshes again
            "refresh_token": f"rotated-{next(rotations)}",
        },
    )
    issuer.token_connections.clear()
    for _ in range(3):
        assert client.get("/profil").status_code == 200

    assert len(issuer.token_connections) == 3
    assert len(set(issuer.token_connections)) == 1
    assert [form["refresh_token"] for form in issuer.token_requests[-2:]] == [
        "rotated-1",
        "rotated-2",
    ]
    assert "Basic " in issuer.token_requests[-1]["authorization"]


def test_two_requests_of_a_browser_refreshing_at_once_present_the_refresh_token_once(
    app, client, personas, issuer, monkeypatch
):
    """The second waits for the first and uses the tokens it stored: presented twice, the
    refresh token would be taken by identity for a stolen one and the login ended."""
    login = personas.login(client, "gp-1", ["clinician"], expires_in=5)
    other_tab = app.test_client()
    other_tab.set_cookie(COOKIE_NAME, client.get_cookie(COOKIE_NAME).value, domain="localhost")
    first_at_identity, let_it_answer = threading.Event(), threading.Event()
    both_refreshing = threading.Barrier(2, timeout=10)

    def answer(form):
        first_at_identity.set()
        let_it_answer.wait(timeout=10)
        return 200, {
            "access_token": issuer.tokens.make_token(sub="gp-1", roles=["clinician"]),
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": "rotated-once",
        }

    issuer.token_answer = answer
    original = sessions.refreshing

    @contextlib.contextmanager
    def arriving(*args):
        both_refreshing.wait()  # each request reached the lock with the tokens it read
        with original(*args) as locked:
            yield locked

    monkeypatch.setattr(sessions, "refreshing", arriving)
    issuer.token_requests.clear()
    statuses = {}

    def open_profile(name, browser):
        statuses[name] = browser.get("/profil").status_code

    first = threading.Thread(target=open_profile, args=("first", client))
    second = threading.Thread(target=open_profile, args=("second", other_tab))
    first.start()
    second.start()
    assert first_at_identity.wait(timeout=10)
    let_it_answer.set()
    first.join(timeout=20)
    second.join(timeout=20)

    assert statuses == {"first": 200, "second": 200}
    assert [form["refresh_token"] for form in issuer.token_requests] == [login.refresh_token]
    with db.sessions(app) as session:
        row = session.scalar(sa.select(PortalSession).where(PortalSession.sub == "gp-1"))
        stored = token_cipher(app.config["SECRET_KEY"]).decrypt(row.refresh_token.encode())
    assert stored == b"rotated-once"


def test_it_sends_the_user_back_to_login_when_the_refresh_token_is_refused(
    client, personas, issuer
):
    personas.login(client, "gp-1", ["clinician"], expires_in=5)
    issuer.token_answer = lambda form: (400, {"error": "invalid_grant"})
    response = client.get("/profil")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert client.get("/").status_code == 302


def test_it_keeps_the_login_when_identity_cannot_be_reached_for_a_refresh(client, personas, app):
    personas.login(client, "gp-1", ["clinician"], expires_in=5)
    identity = app.extensions["portal.oauth"].identity
    identity.load_server_metadata()
    identity.server_metadata["token_endpoint"] = f"http://127.0.0.1:{free_port()}/token"
    response = client.get("/profil")
    assert response.status_code == 502
    assert "momentanément indisponible" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200
