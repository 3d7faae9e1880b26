"""Browser sessions: the signed cookie, idle and absolute expiry, ending them."""

import datetime as dt

import sqlalchemy as sa
from identity import sessions
from identity.models import LoginSession, User
from servicekit import db
from servicekit.models import utcnow
from servicekit.testing import emitted


def _only_session(db_session):
    db_session.expire_all()
    return db_session.scalar(sa.select(LoginSession))


def _age(db_session, **columns):
    db_session.execute(sa.update(LoginSession).values(**columns))
    db_session.commit()


def test_a_signed_in_browser_stays_signed_in_and_is_touched(browser, db_session, gp):
    browser.sign_in(gp)
    _age(db_session, last_seen_at=utcnow() - dt.timedelta(minutes=5))
    assert browser.client.get("/").status_code == 200
    assert utcnow() - _only_session(db_session).last_seen_at < dt.timedelta(minutes=1)


def test_a_session_idle_for_thirty_minutes_ends(browser, db_session, gp):
    browser.sign_in(gp)
    _age(db_session, last_seen_at=utcnow() - dt.timedelta(minutes=31))
    response = browser.client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    ended = _only_session(db_session)
    assert ended.ended_at is not None and ended.end_reason == "idle"
    assert len(emitted(db_session, "fr.enrs.identity.user.logged-out")) == 1


def test_a_session_ends_twelve_hours_after_sign_in_even_when_active(browser, db_session, gp):
    browser.sign_in(gp)
    _age(db_session, expires_at=utcnow() - dt.timedelta(seconds=1))
    assert browser.client.get("/").status_code == 302
    assert _only_session(db_session).end_reason == "expired"


def test_a_cookie_holding_a_bare_session_id_is_not_a_session(browser, client, db_session, gp):
    browser.sign_in(gp)
    session_id = _only_session(db_session).id
    stranger = client.application.test_client()
    stranger.set_cookie("enrs_idp", session_id)
    assert stranger.get("/").status_code == 302


def test_signing_in_again_ends_the_browser_s_previous_session(browser, db_session, gp):
    browser.sign_in(gp)
    browser.sign_in(gp, code=gp.code(1))
    rows = db_session.scalars(sa.select(LoginSession).order_by(LoginSession.created_at)).all()
    assert [row.end_reason for row in rows] == ["replaced", None]


def test_ending_all_sessions_of_a_user_ends_every_browser(
    browser, another_browser, app, db_session, gp
):
    browser.sign_in(gp)
    another_browser.sign_in(gp, code=gp.code(1))
    with app.test_request_context(), db.sessions() as session:
        user = session.scalar(sa.select(User))
        assert sessions.end_all_sessions(session, user, "test") == 2
    assert browser.client.get("/").status_code == 302
    assert another_browser.client.get("/").status_code == 302
    assert len(emitted(db_session, "fr.enrs.identity.user.logged-out")) == 2


def test_start_login_gives_a_random_id_and_a_twelve_hour_limit(app, gp):
    with app.test_request_context(), db.sessions() as session:
        user = session.scalar(sa.select(User))
        first = sessions.start_login(session, user, "mfa")
        second = sessions.start_login(session, user, "mfa")
        assert first.id != second.id and len(first.id) >= 43
        assert first.expires_at - first.created_at == dt.timedelta(hours=12)


def test_the_cookie_is_secure_when_identity_is_served_over_https(database, settings, gp):
    from identity import create_app

    app = create_app({**settings, "OIDC_ISSUER": "https://identity.enrs.example"})
    page = app.test_client().get("/login")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("enrs_idp=") and "Secure" in cookie and "HttpOnly" in cookie


def test_a_session_of_an_account_disabled_behind_its_back_ends(browser, db_session, gp):
    browser.sign_in(gp)
    db_session.execute(sa.update(User).values(disabled=True))
    db_session.commit()
    assert browser.client.get("/").status_code == 302
    assert _only_session(db_session).end_reason == "disabled"


def test_no_setting_stretches_a_session_past_twelve_hours(app, gp):
    app.config["SESSION_MAX_SECONDS"] = 7 * 24 * 3600
    with app.test_request_context(), db.sessions() as session:
        user = session.scalar(sa.select(User))
        login_session = sessions.start_login(session, user, "mfa")
        assert login_session.expires_at - login_session.created_at == dt.timedelta(hours=12)
