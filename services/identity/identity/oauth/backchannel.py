"""OpenID Connect Back-Channel Logout 1.0: a signed logout token POSTed to each client."""

import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sqlalchemy as sa
from flask import current_app
from servicekit.models import utcnow

from identity.oauth import tokens
from identity.oauth.models import OAuthClient

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TIMEOUT = 2
LIFETIME = 120
PENDING = "identity.oauth.backchannel"


def logout_token(db_session, client_id, sid, sub):
    """A logout token for one client (typ logout+jwt, no nonce)."""
    now = int(utcnow().timestamp())
    claims = {
        "iss": current_app.config["OIDC_ISSUER"],
        "aud": client_id,
        "iat": now,
        "exp": now + LIFETIME,
        "jti": uuid.uuid4().hex,
        "sid": sid,
        "sub": sub,
        "events": {EVENT: {}},
    }
    return tokens.sign(claims, "logout+jwt", db_session)


def post_logout_token(uri, token):
    """POST the token to the client; a failure is logged, never raised."""
    body = urllib.parse.urlencode({"logout_token": token}).encode()
    request = urllib.request.Request(  # noqa: S310 - registered http(s) URIs only
        uri, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError, ValueError) as exc:
        log.warning("back-channel logout failed", extra={"uri": uri, "error": str(exc)})
        return False


def notify_clients(db_session, client_ids, sid, sub):
    """Queue a logout token for every client among client_ids with a back-channel URI.

    The tokens leave once db_session commits: a logout that rolls back tells nobody, and no
    database lock is held while a slow client answers.
    """
    if not client_ids:
        return
    query = sa.select(OAuthClient).where(
        OAuthClient.client_id.in_(sorted(client_ids)),
        OAuthClient.backchannel_logout_uri.is_not(None),
    )
    for client in db_session.scalars(query):
        token = logout_token(db_session, client.client_id, sid, sub)
        _pending(db_session).append((client.backchannel_logout_uri, token))


def _pending(db_session):
    if PENDING not in db_session.info:
        db_session.info[PENDING] = []
        sa.event.listen(db_session, "after_commit", _send_pending)
        sa.event.listen(db_session, "after_rollback", _forget_pending)
    return db_session.info[PENDING]


def _send_pending(db_session):
    pending, db_session.info[PENDING] = db_session.info.get(PENDING, []), []
    for uri, token in pending:
        post_logout_token(uri, token)


def _forget_pending(db_session):
    db_session.info[PENDING] = []
