"""RP-initiated logout (Authlib's end-session endpoint) and what ending a session does to tokens."""

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import current_app
from joserfc.jwk import KeySet
from servicekit import db

from identity import sessions
from identity.models import LoginSession
from identity.oauth import backchannel, keys, tokens


class EndSession(EndSessionEndpoint):
    """Validates id_token_hint against identity's keys; redirects only to registered URIs."""

    def get_server_jwks(self):
        return KeySet.import_key_set(keys.jwks(db.session(), current_app.config))

    def get_algorithms(self):
        return ["RS256"]

    def validate_request(self, request):
        validated = super().validate_request(request)
        claims = validated.id_token_claims
        if claims and claims.get("iss") != current_app.config["OIDC_ISSUER"]:
            raise InvalidRequestError("The id_token_hint was not issued here.")
        return validated

    def end_session(self, end_session_request):
        session = db.session()
        for login in _sessions_to_end(session, end_session_request.id_token_claims):
            sessions.end_login_session(session, login, "logout")


def _sessions_to_end(session, id_token_claims):
    found = []
    current = sessions.current_login(session)
    if current is not None:
        found.append(current)
    if id_token_claims and id_token_claims.get("sid"):
        hinted = session.get(LoginSession, id_token_claims["sid"])
        same_user = hinted is not None and str(hinted.user_id) == id_token_claims.get("sub")
        if same_user and hinted not in found:
            found.append(hinted)
    return found


def session_ended(db_session, login_session):
    """Revoke the tokens of a login session and send back-channel logout tokens to its clients."""
    client_ids = tokens.revoke_session_tokens(db_session, login_session.id)
    backchannel.notify_clients(db_session, client_ids, login_session.id, str(login_session.user_id))


def user_disabled(db_session, user):
    """Revoke every refresh and access token of a disabled user."""
    tokens.revoke_user_tokens(db_session, user.id)
