"""The sign-in page: password + TOTP, lockout, no account enumeration, CSRF, safe redirects."""

import datetime as dt

import pytest
import sqlalchemy as sa
from identity.login import FAILED
from identity.models import LoginAttempt, LoginSession, User
from servicekit.models import AuditEntry, utcnow
from servicekit.testing import emitted


def test_it_shows_an_accessible_french_sign_in_page(client):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="fr">' in html
    assert "<h1>Connexion</h1>" in html
    for label in ("Identifiant", "Mot de passe", "Code à usage unique (6 chiffres)"):
        assert label in html
    assert '<label for="username">' in html and 'id="username"' in html
    assert "<main" in html and "<script" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_it_signs_a_gp_in_with_password_and_code_and_goes_to_next(browser, db_session, gp):
    response = browser.sign_in(gp, next_url="/authorize?client_id=portal&state=x")
    assert response.status_code == 302
    assert response.headers["Location"] == "/authorize?client_id=portal&state=x"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("enrs_idp=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    login_session = db_session.scalar(sa.select(LoginSession))
    assert str(login_session.user_id) == gp.id and login_session.acr == "mfa"
    assert login_session.expires_at - login_session.created_at <= dt.timedelta(hours=12)
    assert [e.data["username"] for e in emitted(db_session, "fr.enrs.identity.user.logged-in")] == [
        gp.username
    ]
    assert browser.client.get("/").status_code == 200


def test_it_accepts_the_username_in_any_case(browser, client, gp):
    assert browser.sign_in(gp, username=gp.username.upper()).status_code == 302


def test_it_refuses_a_wrong_code(browser, client, db_session, gp):
    response = browser.sign_in(gp, code="000000" if gp.code() != "000000" else "111111")
    assert response.status_code == 401
    assert FAILED in response.get_data(as_text=True)
    assert response.get_data(as_text=True).count('aria-invalid="true"') == 3
    assert db_session.scalar(sa.select(LoginSession)) is None
    failures = emitted(db_session, "fr.enrs.identity.user.login-failed")
    assert [e.data["reason"] for e in failures] == ["wrong-code"]


def test_it_refuses_a_code_used_once_already(browser, another_browser, gp):
    code = gp.code()
    assert browser.sign_in(gp, code=code).status_code == 302
    assert another_browser.sign_in(gp, code=code).status_code == 401


def test_the_fifth_wrong_password_locks_the_account(browser, client, db_session, gp):
    for _ in range(4):
        assert browser.sign_in(gp, password="not the password at all").status_code == 401
    assert db_session.scalar(sa.select(User.locked_until)) is None
    assert browser.sign_in(gp, password="not the password at all").status_code == 401
    user = db_session.scalar(sa.select(User))
    assert user.locked_until > utcnow() + dt.timedelta(seconds=50)
    assert len(emitted(db_session, "fr.enrs.identity.user.locked")) == 1
    locked = browser.sign_in(gp, code=gp.code(1))
    assert locked.status_code == 401
    assert FAILED in locked.get_data(as_text=True)


def test_the_lock_grows_after_it_expires_and_fails_again(browser, client, db_session, gp, app):
    for _ in range(5):
        browser.sign_in(gp, password="not the password at all")
    db_session.execute(sa.update(User).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    db_session.commit()
    browser.sign_in(gp, password="not the password at all")
    db_session.expire_all()
    user = db_session.scalar(sa.select(User))
    assert user.locked_until > utcnow() + dt.timedelta(seconds=110)


def test_a_successful_sign_in_resets_the_failure_count(browser, client, db_session, gp):
    for _ in range(4):
        browser.sign_in(gp, password="not the password at all")
    assert browser.sign_in(gp).status_code == 302
    assert db_session.scalar(sa.select(User.failed_logins)) == 0


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(browser, client, gp):
    unknown = browser.sign_in(gp, username="nobody.here")
    wrong_password = browser.sign_in(gp, password="not the password at all")
    assert unknown.status_code == wrong_password.status_code == 401
    assert FAILED in unknown.get_data(as_text=True)
    assert FAILED in wrong_password.get_data(as_text=True)


def test_a_disabled_account_gets_the_same_answer_as_a_wrong_password(browser, db_session, gp):
    db_session.execute(sa.update(User).values(disabled=True))
    db_session.commit()
    response = browser.sign_in(gp)
    assert response.status_code == 401
    assert FAILED in response.get_data(as_text=True)


def test_it_throttles_a_client_address_after_too_many_failures(browser, db_session, app, gp):
    app.config["LOGIN_IP_MAX_FAILURES"] = 3
    for name in ("a.one", "b.two", "c.three"):
        browser.sign_in(gp, username=name)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 3
    throttled = browser.sign_in(gp)
    assert throttled.status_code == 429


def test_it_refuses_a_form_without_its_csrf_token(browser, client, gp):
    browser.csrf_token()
    response = client.post(
        "/login", data={"username": gp.username, "password": gp.password, "code": gp.code()}
    )
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


def test_it_refuses_a_csrf_token_from_another_browser(browser, another_browser, client, gp):
    stolen = another_browser.csrf_token()
    browser.csrf_token()
    form = {"csrf_token": stolen, "username": gp.username, "password": gp.password}
    response = client.post("/login", data={**form, "code": gp.code()})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%0d%0aLocation:%20https://evil.example",
        "\t//evil.example",
    ],
)
def test_it_never_redirects_off_identity(browser, client, gp, next_url):
    response = browser.sign_in(gp, next_url=next_url)
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", next_url)
    assert response.headers["Location"].startswith("/")
    assert not response.headers["Location"].startswith(("//", "/\\"))


def test_it_audits_failures_and_successes_without_secrets(browser, client, db_session, gp):
    browser.sign_in(gp, password="not the password at all")
    browser.sign_in(gp, code=gp.code(1))
    entries = db_session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.outcome) for e in entries if e.action == "identity.login"] == [
        ("identity.login", "failed"),
        ("identity.login", "ok"),
    ]
    everything = " ".join(str(e.details) for e in entries)
    assert "not the password" not in everything and gp.password not in everything


def test_failures_older_than_the_window_no_longer_throttle(browser, db_session, app, gp):
    app.config["LOGIN_IP_MAX_FAILURES"] = 2
    for name in ("a.one", "b.two"):
        browser.sign_in(gp, username=name)
    db_session.execute(sa.update(LoginAttempt).values(at=utcnow() - dt.timedelta(minutes=16)))
    db_session.commit()
    assert browser.sign_in(gp).status_code == 302
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 0


def test_it_counts_sign_ins_for_the_metrics_page(browser, client, gp):
    browser.sign_in(gp, password="not the password at all")
    browser.sign_in(gp, code=gp.code(1))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'enrs_identity_logins_total{outcome="ok"}' in metrics
    assert 'enrs_identity_logins_total{outcome="failed"}' in metrics


def test_a_password_typed_in_the_username_field_is_not_recorded(browser, db_session, gp):
    browser.sign_in(gp, username="S3cret!Pass word")
    entries = db_session.scalars(sa.select(AuditEntry)).all()
    [failed] = emitted(db_session, "fr.enrs.identity.user.login-failed")
    assert failed.data["username"] == "(invalid)"
    assert "s3cret" not in " ".join(str(entry.details).lower() for entry in entries)
