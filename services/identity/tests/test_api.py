"""The JSON API: the caller's own account and sessions, TOTP enrolment, account admin."""

import re

import pyotp
import pytest
import sqlalchemy as sa
from identity.models import LoginSession, TotpDevice, User
from servicekit.models import AuditEntry
from servicekit.testing import SigningKey, TokenFactory, emitted

NEW_USER = {
    "username": "Marc.Dubois",
    "given_name": "Marc",
    "family_name": "Dubois",
    "email": "marc.dubois@example.org",
    "rpps": "10002223334",
    "roles": ["clinician", "rcp-member"],
    "password": "  a long passphrase with spaces  ",
}


def _user_count(db_session):
    return db_session.scalar(sa.select(sa.func.count()).select_from(User))


def _signed_in_sid(browser, db_session, persona):
    browser.sign_in(persona)
    return db_session.scalar(sa.select(LoginSession.id).order_by(LoginSession.created_at.desc()))


def test_it_asks_for_a_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]


def test_it_refuses_a_token_signed_with_another_key(client, gp):
    forged = TokenFactory(SigningKey(), issuer="http://127.0.0.1/test-issuer")
    assert client.get("/api/v1/me", headers=forged.auth_header(sub=gp.id)).status_code == 401


def test_it_tells_a_gp_about_their_account_and_sessions(browser, client, db_session, tokens, gp):
    sid = _signed_in_sid(browser, db_session, gp)
    response = client.get("/api/v1/me", headers=tokens.auth_header(sub=gp.id, sid=sid))
    assert response.status_code == 200
    body = response.json
    assert body["user"]["username"] == gp.username and body["user"]["rpps"] == "10001234567"
    assert body["user"]["mfa_enabled"] is True and "password_hash" not in body["user"]
    assert [(s["id"], s["current"]) for s in body["sessions"]] == [(sid, True)]
    assert [d["confirmed"] for d in body["mfa"]["devices"]] == [True]


def test_a_service_token_has_no_account(client, tokens):
    headers = tokens.auth_header(sub="directory", roles=["platform-admin"])
    assert client.get("/api/v1/me", headers=headers).status_code == 404


def test_a_gp_ends_one_of_their_sessions(browser, client, db_session, tokens, gp):
    sid = _signed_in_sid(browser, db_session, gp)
    response = client.delete(f"/api/v1/me/sessions/{sid}", headers=tokens.auth_header(sub=gp.id))
    assert response.status_code == 204
    assert browser.client.get("/").status_code == 302
    assert len(emitted(db_session, "fr.enrs.identity.user.logged-out")) == 1


def test_nobody_ends_someone_else_s_session(browser, client, db_session, tokens, gp, neurologist):
    sid = _signed_in_sid(browser, db_session, gp)
    headers = tokens.auth_header(sub=neurologist.id)
    assert client.delete(f"/api/v1/me/sessions/{sid}", headers=headers).status_code == 404
    assert browser.client.get("/").status_code == 200


def test_a_gp_enrols_a_second_totp_device(browser, client, db_session, tokens, gp):
    headers = tokens.auth_header(sub=gp.id, sid=_signed_in_sid(browser, db_session, gp))
    started = client.post("/api/v1/me/totp", json={"label": "Téléphone pro"}, headers=headers)
    assert started.status_code == 201
    assert started.json["qr_svg"].startswith("<svg")
    assert started.json["provisioning_uri"].startswith("otpauth://totp/ENRS:")
    device_id = started.json["device_id"]
    confirm = f"/api/v1/me/totp/{device_id}/confirm"
    wrong = client.post(confirm, json={"code": "12345x"}, headers=headers)
    assert wrong.status_code == 400
    code = pyotp.TOTP(started.json["secret"]).now()
    confirmed = client.post(confirm, json={"code": code}, headers=headers)
    assert confirmed.status_code == 200 and confirmed.json["confirmed"] is True
    again = client.post(confirm, json={"code": code}, headers=headers)
    assert again.status_code == 409


def test_enrolling_a_device_needs_a_token_from_an_open_session(
    browser, client, db_session, tokens, gp
):
    sid = _signed_in_sid(browser, db_session, gp)
    headers = tokens.auth_header(sub=gp.id, sid=sid)
    client.delete(f"/api/v1/me/sessions/{sid}", headers=headers)
    late = client.post("/api/v1/me/totp", json={"label": "Tablette"}, headers=headers)
    assert late.status_code == 401
    foreign = tokens.auth_header(sub=gp.id, sid="not-a-session")
    assert client.post("/api/v1/me/totp", json={"label": "X"}, headers=foreign).status_code == 401


def test_totp_secrets_are_encrypted_at_rest(client, db_session, tokens, gp):
    db_session.expire_all()
    stored = db_session.scalar(sa.select(TotpDevice.secret_encrypted))
    assert gp.totp_secret not in stored


def test_a_gp_cannot_use_the_admin_api(client, tokens, gp):
    headers = tokens.auth_header(sub=gp.id, roles=["clinician"])
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    assert client.post("/api/v1/users", json=NEW_USER, headers=headers).status_code == 403


def test_the_gcs_admin_creates_an_account(client, db_session, as_admin, gcs_admin):
    response = client.post("/api/v1/users", json=NEW_USER, headers=as_admin)
    assert response.status_code == 201
    user = response.json["user"]
    assert user["username"] == "marc.dubois" and user["roles"] == ["clinician", "rcp-member"]
    assert response.json["totp_provisioning_uri"].startswith("otpauth://totp/")
    created = emitted(db_session, "fr.enrs.identity.user.created")
    assert (created[-1].data["username"], created[-1].data["by"]) == ("marc.dubois", gcs_admin.id)
    audit = db_session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.actor == gcs_admin.id, AuditEntry.action.like("%create")
        )
    )
    assert audit.actor == gcs_admin.id and audit.target == f"user:{user['id']}"


def test_the_new_account_signs_in_with_its_password_as_typed(client, browser, as_admin):
    created = client.post("/api/v1/users", json=NEW_USER, headers=as_admin).json
    secret = re.search(r"secret=([A-Z2-7]+)", created["totp_provisioning_uri"]).group(1)

    class Marc:
        username = "marc.dubois"
        password = NEW_USER["password"]

        @staticmethod
        def code():
            return pyotp.TOTP(secret).now()

    assert browser.sign_in(Marc).status_code == 302


@pytest.mark.parametrize(
    "change",
    [
        {"is_admin": True},
        {"username": 42},
        {"username": "x" * 65},
        {"username": "marc dubois"},
        {"username": "marc/../dubois"},
        {"given_name": "Marc\u0000"},
        {"family_name": "Dubois\nX-Injected: 1"},
        {"given_name": ""},
        {"rpps": "1234567890"},
        {"rpps": "1000222333a"},
        {"rpps": "１０００２２２３３３４"},
        {"roles": ["superuser"]},
        {"roles": "clinician"},
        {"password": "too short"},
        {"email": "not-an-email"},
    ],
)
def test_it_refuses_bad_account_fields_and_writes_nothing(client, db_session, as_admin, change):
    before = _user_count(db_session), len(emitted(db_session))
    response = client.post("/api/v1/users", json={**NEW_USER, **change}, headers=as_admin)
    assert response.status_code == 400
    assert response.json["details"]["fields"]
    assert (_user_count(db_session), len(emitted(db_session))) == before


def test_it_refuses_a_body_that_is_not_json(client, as_admin):
    response = client.post("/api/v1/users", data="username=x", headers=as_admin)
    assert response.status_code == 415


def test_it_refuses_a_duplicate_username_whatever_its_case(client, db_session, as_admin, gp):
    before = _user_count(db_session)
    duplicate = {**NEW_USER, "username": gp.username.upper(), "rpps": None}
    response = client.post("/api/v1/users", json=duplicate, headers=as_admin)
    assert response.status_code == 409
    assert _user_count(db_session) == before


def test_it_refuses_a_duplicate_rpps(client, as_admin, gp):
    duplicate = {**NEW_USER, "rpps": "10001234567"}
    assert client.post("/api/v1/users", json=duplicate, headers=as_admin).status_code == 409


def test_the_admin_searches_accounts_a_page_at_a_time(client, as_admin, gp, neurologist):
    everyone = client.get("/api/v1/users?limit=2", headers=as_admin).json
    assert everyone["total"] == 3 and len(everyone["items"]) == 2
    found = client.get("/api/v1/users?q=HADDAD", headers=as_admin).json
    assert [user["username"] for user in found["items"]] == [neurologist.username]
    assert client.get("/api/v1/users?limit=1000", headers=as_admin).status_code == 400
    assert client.get("/api/v1/users?offset=-1", headers=as_admin).status_code == 400


def test_the_admin_reads_one_account(client, as_admin, gp):
    assert client.get(f"/api/v1/users/{gp.id}", headers=as_admin).json["username"] == gp.username
    assert client.get("/api/v1/users/not-a-uuid", headers=as_admin).status_code == 404


def test_disabling_an_account_ends_its_sessions_at_once(browser, client, db_session, as_admin, gp):
    browser.sign_in(gp)
    response = client.post(f"/api/v1/users/{gp.id}/disable", headers=as_admin)
    assert response.status_code == 200 and response.json["disabled"] is True
    assert browser.client.get("/").status_code == 302
    assert len(emitted(db_session, "fr.enrs.identity.user.disabled")) == 1
    assert len(emitted(db_session, "fr.enrs.identity.user.logged-out")) == 1
    assert browser.sign_in(gp, code=gp.code(1)).status_code == 401
    enabled = client.post(f"/api/v1/users/{gp.id}/enable", headers=as_admin)
    assert enabled.json["disabled"] is False
    assert len(emitted(db_session, "fr.enrs.identity.user.enabled")) == 1


def test_an_admin_cannot_disable_their_own_account(client, as_admin, gcs_admin):
    response = client.post(f"/api/v1/users/{gcs_admin.id}/disable", headers=as_admin)
    assert response.status_code == 422


def test_the_admin_changes_roles_and_it_is_recorded(client, db_session, as_admin, gp):
    url = f"/api/v1/users/{gp.id}/roles"
    response = client.put(url, json={"roles": ["clinician", "stroke-requester"]}, headers=as_admin)
    assert response.json["roles"] == ["clinician", "stroke-requester"]
    [changed] = emitted(db_session, "fr.enrs.identity.user.roles-changed")
    assert changed.data["previous_roles"] == ["clinician"]
    assert client.put(url, json={"roles": ["root"]}, headers=as_admin).status_code == 400


def test_resetting_mfa_replaces_the_device(client, browser, db_session, as_admin, gp):
    response = client.post(f"/api/v1/users/{gp.id}/mfa/reset", headers=as_admin)
    assert response.status_code == 200
    secret = re.search(r"secret=([A-Z2-7]+)", response.json["totp_provisioning_uri"]).group(1)
    assert secret != gp.totp_secret
    assert browser.sign_in(gp).status_code == 401
    assert browser.sign_in(gp, code=pyotp.TOTP(secret).now()).status_code == 302
    assert len(emitted(db_session, "fr.enrs.identity.user.mfa-reset")) == 1
