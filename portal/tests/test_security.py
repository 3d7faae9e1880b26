"""Security of every page: headers, CSRF, cookies, tokens at rest, HTML errors."""

import pytest
import sqlalchemy as sa
from portal.models import PortalSession
from servicekit import db
from servicekit.config import ConfigError
from servicekit.testing import free_port

from portal import create_app


def test_it_sends_security_headers_on_every_response(client, gp):
    for path in ("/", "/healthz", "/page-inexistante", "/static/portal.css"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_it_keeps_pages_out_of_caches(gp):
    assert gp.get("/").headers["Cache-Control"] == "no-store"


def test_it_refuses_a_form_posted_without_its_csrf_token(gp):
    response = gp.post("/langue", data={"lang": "en"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


def test_it_refuses_a_logout_posted_from_another_site(gp):
    response = gp.post("/auth/logout")
    assert response.status_code == 400
    assert gp.get("/").status_code == 200


def test_it_accepts_a_form_posted_with_its_csrf_token(gp, csrf_token):
    response = gp.post("/langue", data={"lang": "en", "next": "/", "csrf_token": csrf_token(gp)})
    assert response.status_code == 302
    assert "Hello Claire" in gp.get("/").get_data(as_text=True)


def test_it_answers_unknown_pages_with_a_french_html_page(client):
    response = client.get("/page-inexistante")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page introuvable" in response.get_data(as_text=True)


def test_it_sets_the_session_cookie_http_only_and_same_site_lax(client):
    response = client.get("/auth/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("enrs_portal=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_it_marks_the_session_cookie_secure_behind_https(settings, monkeypatch, database):
    monkeypatch.setenv("ENRS_PUBLIC_URL", "https://portail.enrs.example")
    app = create_app({"TESTING": True})
    database.migrate(app)
    response = app.test_client().get("/auth/login")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in response.headers
    database.empty(app)


def test_it_stores_tokens_encrypted_and_only_a_hash_of_the_cookie(app, client, personas):
    login = personas.login(client, "gp-2", ["clinician"])
    cookie = client.get_cookie("enrs_portal").value
    with db.sessions(app) as session:
        row = session.scalar(sa.select(PortalSession).where(PortalSession.sub == "gp-2"))
        assert row.key_hash != cookie
        assert login.access_token not in row.access_token
        assert login.refresh_token not in row.refresh_token


def test_it_starts_no_session_for_an_anonymous_health_check(client):
    response = client.get("/healthz")
    assert "Set-Cookie" not in response.headers


def test_it_says_in_french_when_identity_cannot_be_reached_for_login(settings, monkeypatch):
    monkeypatch.setenv("OIDC_ISSUER", f"http://127.0.0.1:{free_port()}")
    response = create_app({"TESTING": True}).test_client().get("/auth/login")
    assert response.status_code == 503
    assert "momentanément indisponible" in response.get_data(as_text=True)


def test_it_refuses_to_start_without_its_public_url(settings, monkeypatch):
    monkeypatch.delenv("ENRS_PUBLIC_URL")
    with pytest.raises(ConfigError, match="ENRS_PUBLIC_URL"):
        create_app()


def test_it_does_not_rewrite_an_unchanged_session_on_every_request(app, gp):
    with db.sessions(app) as session:
        before = session.scalar(sa.select(PortalSession.last_seen_at))
    gp.get("/static/portal.css")
    gp.get("/static/portal.css")
    with db.sessions(app) as session:
        assert session.scalar(sa.select(PortalSession.last_seen_at)) == before
