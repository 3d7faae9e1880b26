"""identity follows the directory: practitioner events link accounts by RPPS, or disable them."""

import urllib.parse
import uuid

import pytest
import sqlalchemy as sa
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from identity import handlers
from identity.models import LoginSession, User
from identity.oauth.models import IssuedAccessToken, RefreshToken
from pydantic import ValidationError
from servicekit.models import AuditEntry, ProcessedEvent
from servicekit.testing import emitted
from servicekit.testing.events import deliver, make_event

CREATED = "fr.enrs.directory.practitioner.created"
UPDATED = "fr.enrs.directory.practitioner.updated"
DEACTIVATED = "fr.enrs.directory.practitioner.deactivated"
GP_RPPS = "10001234567"
PORTAL = "portal"
PORTAL_SECRET = "portal-secret-for-tests-0123456789"
REDIRECT = "http://127.0.0.1:8000/auth/callback"
VERIFIER = "un-verificateur-pkce-assez-long-pour-la-norme-0123456789"


def practitioner_event(type, rpps=GP_RPPS, family="Martin-Duval", given="Claire", **changes):
    """A directory practitioner event as the directory's relay sends it."""
    practitioner_id = str(uuid.uuid4())
    data = {
        "id": practitioner_id,
        "national_id": f"8{rpps}",
        "id_type": "8",
        "rpps": rpps,
        "family": family,
        "given": given,
        "active": type != DEACTIVATED,
        **changes,
    }
    return make_event(type, subject=practitioner_id, data=data)


def handle(app, event):
    """Deliver the event as identity's worker does (inside the app, like the worker)."""
    with app.app_context():
        return deliver(app, event)


def account(db_session, persona):
    db_session.expire_all()
    return db_session.get(User, uuid.UUID(persona.id))


def audit_actions(db_session, actor=handlers.ACTOR):
    query = sa.select(AuditEntry.action).where(AuditEntry.actor == actor).order_by(AuditEntry.id)
    return list(db_session.scalars(query))


@pytest.fixture
def portal(runner):
    """The portal as a confidential client, so the GP can hold refresh tokens."""
    result = runner.invoke(
        args=[
            *("client", "create", PORTAL, "--secret-stdin", "--redirect-uri", REDIRECT),
            *("--grant", "authorization_code", "--grant", "refresh_token"),
        ],
        input=PORTAL_SECRET + "\n",
    )
    assert result.exit_code == 0, result.output
    return PORTAL


def portal_tokens(client):
    """The portal's tokens for the browser signed in at identity (code flow with PKCE)."""
    params = {
        "response_type": "code",
        "client_id": PORTAL,
        "redirect_uri": REDIRECT,
        "scope": "openid profile offline_access roles",
        "state": "etat",
        "nonce": "nonce-123",
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    response = client.get("/authorize?" + urllib.parse.urlencode(params))
    assert response.status_code == 302, response.get_data(as_text=True)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))
    form = {
        "grant_type": "authorization_code",
        "code": code["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    token = client.post("/token", data=form, auth=(PORTAL, PORTAL_SECRET))
    assert token.status_code == 200, token.get_data(as_text=True)
    return token.get_json()


def test_a_new_practitioner_links_the_account_with_its_rpps(app, db_session, gp):
    assert handle(app, practitioner_event(CREATED, family="Martin-Duval", given="Claire-Anne"))
    user = account(db_session, gp)
    assert (user.given_name, user.family_name) == ("Claire-Anne", "Martin-Duval")
    assert user.rpps == GP_RPPS and not user.disabled
    assert audit_actions(db_session) == ["identity.user.link"]


def test_an_updated_practitioner_renames_the_linked_account(app, db_session, gp):
    handle(app, practitioner_event(CREATED, family="Martin", given="Claire-Anne"))
    handle(app, practitioner_event(UPDATED, family="Lefèvre", given="Claire-Anne"))
    user = account(db_session, gp)
    assert (user.given_name, user.family_name) == ("Claire-Anne", "Lefèvre")
    assert audit_actions(db_session) == ["identity.user.link", "identity.user.link"]


def test_an_unchanged_practitioner_leaves_no_audit_entry(app, db_session, gp):
    handle(app, practitioner_event(UPDATED, family="Martin", given="Claire"))
    assert account(db_session, gp).family_name == "Martin"
    assert audit_actions(db_session) == []


def test_a_deactivated_practitioner_s_account_is_disabled_as_an_admin_would(
    app, browser, client, db_session, gp, portal
):
    assert browser.sign_in(gp).status_code == 302
    issued = portal_tokens(client)

    assert handle(app, practitioner_event(DEACTIVATED))

    user = account(db_session, gp)
    assert user.disabled is True
    sessions = db_session.scalars(sa.select(LoginSession).where(LoginSession.user_id == user.id))
    assert [(s.ended_at is not None, s.end_reason) for s in sessions] == [(True, "disabled")]
    for model in (RefreshToken, IssuedAccessToken):
        rows = db_session.scalars(sa.select(model).where(model.user_id == user.id)).all()
        assert rows and all(row.revoked_at is not None for row in rows)
    refresh = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    assert client.post("/token", data=refresh, auth=(PORTAL, PORTAL_SECRET)).status_code == 400
    assert browser.client.get("/").status_code == 302
    [disabled] = emitted(db_session, "fr.enrs.identity.user.disabled")
    assert disabled.data == {"user_id": gp.id, "username": gp.username, "by": "directory"}
    assert audit_actions(db_session) == ["identity.session.ended", "identity.user.disable"]


def test_a_practitioner_unknown_here_changes_nothing(app, db_session, gp):
    assert handle(app, practitioner_event(DEACTIVATED, rpps="10000000001"))
    assert handle(app, practitioner_event(CREATED, rpps=None, national_id="0751234567"))
    assert account(db_session, gp).disabled is False
    assert audit_actions(db_session) == []
    assert emitted(db_session) == emitted(db_session, "fr.enrs.identity.user.created")


def test_a_redelivered_deactivation_is_handled_once(app, db_session, gp):
    event = practitioner_event(DEACTIVATED)
    assert handle(app, event) is True
    assert handle(app, event) is False
    assert len(emitted(db_session, "fr.enrs.identity.user.disabled")) == 1
    assert audit_actions(db_session) == ["identity.user.disable"]


@pytest.mark.parametrize(
    "changes",
    [
        {"rpps": "1234"},
        {"rpps": 10001234567},
        {"family": ""},
        {"active": "yes"},
        {"given": None},
    ],
    ids=["short-rpps", "numeric-rpps", "empty-family-name", "text-active", "no-given-name"],
)
def test_malformed_practitioner_data_raises_for_the_dead_letter_topic(app, db_session, gp, changes):
    event = practitioner_event(DEACTIVATED, **changes)
    # The consumer retries a raising handler, then sends the message to enrs.directory.dlq.
    with pytest.raises(ValidationError):
        handle(app, event)
    assert account(db_session, gp).disabled is False
    processed = sa.select(ProcessedEvent).where(ProcessedEvent.event_id == event.get_id())
    assert db_session.scalar(processed) is None
