"""Back-channel logout: identity ends a session, the portal forgets every session of that sid."""

import time

import pytest
import sqlalchemy as sa
from portal.models import LogoutTokenUse
from servicekit import db
from servicekit.testing import SigningKey

from portal import logout_tokens


@pytest.fixture
def gp_on_two_browsers(app, personas):
    """A GP logged in twice under one identity session (sid), plus a colleague elsewhere."""
    first, second, colleague = app.test_client(), app.test_client(), app.test_client()
    personas.login(first, "gp-1", ["clinician"], sid="sid-gp")
    personas.login(second, "gp-1", ["clinician"], sid="sid-gp")
    personas.login(colleague, "gp-2", ["clinician"], sid="sid-other")
    return first, second, colleague


def _logout(client, token):
    return client.post("/auth/backchannel-logout", data={"logout_token": token})


def test_it_ends_every_portal_session_of_the_identity_session(app, issuer, gp_on_two_browsers):
    first, second, colleague = gp_on_two_browsers
    response = _logout(app.test_client(), issuer.logout_token(sid="sid-gp", sub="gp-1"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert first.get("/").status_code == 302
    assert second.get("/").status_code == 302
    assert colleague.get("/").status_code == 200


def test_it_ends_every_session_of_the_user_when_the_token_names_only_the_subject(
    app, issuer, gp_on_two_browsers
):
    first, second, colleague = gp_on_two_browsers
    assert _logout(app.test_client(), issuer.logout_token(sub="gp-1")).status_code == 200
    assert first.get("/").status_code == 302
    assert second.get("/").status_code == 302
    assert colleague.get("/").status_code == 200


def test_a_logout_token_sent_again_cannot_end_a_later_login(
    app, issuer, gp_on_two_browsers, personas
):
    first, _second, _colleague = gp_on_two_browsers
    token = issuer.logout_token(sub="gp-1")
    assert _logout(app.test_client(), token).status_code == 200
    assert first.get("/").status_code == 302
    later = app.test_client()
    personas.login(later, "gp-1", ["clinician"], sid="sid-gp-later")

    response = _logout(app.test_client(), token)

    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request"}
    assert later.get("/").status_code == 200


def test_it_forgets_the_logout_tokens_that_have_expired(app, issuer, db_session):
    past = int(time.time()) - 3600
    old = issuer.logout_token(sub="gp-1")
    claims = {"jti": "ancient-jti", "exp": past}
    with db.sessions(app) as dbs:
        assert logout_tokens.first_use(dbs, claims)
    assert db_session.get(LogoutTokenUse, "ancient-jti") is not None

    assert _logout(app.test_client(), old).status_code == 200

    db_session.expire_all()
    assert db_session.get(LogoutTokenUse, "ancient-jti") is None
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LogoutTokenUse)) == 1


def test_it_needs_no_csrf_token_but_a_signed_logout_token(app, issuer, gp_on_two_browsers):
    first, _second, _colleague = gp_on_two_browsers
    assert _logout(app.test_client(), "").status_code == 400
    assert first.get("/").status_code == 200


def _forged_signature(issuer):
    other = SigningKey(kid=issuer.key.kid)
    token = issuer.logout_token(sid="sid-gp")
    forged = other.sign({"sid": "sid-gp"}, headers={"typ": "logout+jwt"})
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{forged.split('.')[2]}"


BAD_TOKENS = {
    "bad signature": _forged_signature,
    "wrong audience": lambda issuer: issuer.logout_token(sid="sid-gp", aud="another-client"),
    "wrong issuer": lambda issuer: issuer.logout_token(sid="sid-gp", iss="http://evil.example"),
    "missing events": lambda issuer: issuer.logout_token(sid="sid-gp", events=None),
    "wrong event": lambda issuer: issuer.logout_token(sid="sid-gp", events={"other": {}}),
    "with a nonce": lambda issuer: issuer.logout_token(sid="sid-gp", nonce="n-1"),
    "neither sid nor sub": lambda issuer: issuer.logout_token(),
    "an access token": lambda issuer: issuer.logout_token(sid="sid-gp", headers={"typ": "at+jwt"}),
    "no iat": lambda issuer: issuer.logout_token(sid="sid-gp", iat=None),
    "no exp": lambda issuer: issuer.logout_token(sid="sid-gp", exp=None),
    "not a jwt": lambda issuer: "not-a-token",
}


@pytest.mark.parametrize("problem", sorted(BAD_TOKENS))
def test_it_refuses_a_bad_logout_token_and_keeps_the_sessions(
    app, issuer, gp_on_two_browsers, problem
):
    first, _second, _colleague = gp_on_two_browsers
    response = _logout(app.test_client(), BAD_TOKENS[problem](issuer))
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request"}
    assert first.get("/").status_code == 200
