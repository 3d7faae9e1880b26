"""The OpenID provider's endpoints: discovery, JWKS, authorize, token, userinfo, revoke, logout."""

import io
import logging
import uuid
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Blueprint, Request, current_app, g, jsonify, render_template, request
from flask_wtf import FlaskForm
from servicekit import auth, db
from servicekit.errors import ServiceError
from servicekit.models import utcnow

from identity import sessions
from identity.models import User
from identity.oauth import keys, tokens
from identity.oauth.server import SCOPES, authorization_server, user_info

log = logging.getLogger(__name__)

bp = Blueprint("oauth", __name__, template_folder="templates")

CLAIMS = [
    *("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid", "jti", "scope"),
    *("roles", "client_id", "rpps", "name", "given_name", "family_name", "preferred_username"),
    "email",
]
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
REAUTH_PARAMS = ("prompt", "max_age")


def _issuer():
    return current_app.config["OIDC_ISSUER"].rstrip("/")


@bp.get("/.well-known/openid-configuration")
def discovery():
    """The provider's metadata (OpenID Connect Discovery 1.0)."""
    issuer = _issuer()
    response = jsonify(
        issuer=current_app.config["OIDC_ISSUER"],
        authorization_endpoint=f"{issuer}/authorize",
        token_endpoint=f"{issuer}/token",
        userinfo_endpoint=f"{issuer}/userinfo",
        jwks_uri=f"{issuer}/jwks.json",
        revocation_endpoint=f"{issuer}/revoke",
        end_session_endpoint=f"{issuer}/logout",
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=["RS256"],
        scopes_supported=list(SCOPES),
        claims_supported=CLAIMS,
        code_challenge_methods_supported=["S256"],
        token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
        request_parameter_supported=False,
        claims_parameter_supported=False,
    )
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


@bp.get("/jwks.json")
def jwks():
    """The public signing keys: the current one and those retired recently."""
    session = db.session()
    body = keys.jwks(session, current_app.config)
    session.commit()
    response = jsonify(body)
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


@bp.get("/authorize")
def authorize():
    """Issue a code to a signed-in user, or show the sign-in form first."""
    server = authorization_server()
    session = db.session()
    login = sessions.current_login(session)
    grantee = _grantee(login)
    try:
        grant = server.get_consent_grant(end_user=grantee)
    except OAuth2Error as error:
        session.commit()
        return _authorize_error(server, error)
    if grantee is None or _must_sign_in_again(grant, login):
        session.commit()
        # The form is answered here rather than through a redirect to /login: one request
        # fewer per sign-in. It is posted to /login, which comes back to this request.
        from identity.login import sign_in_page

        return sign_in_page(_authorize_again_url())
    response = server.create_authorization_response(grant=grant, grant_user=grantee)
    session.commit()
    return response


def authorize_after_sign_in(login, next_url):
    """The client's redirect with a code, when a sign-in's `next` is an authorization request
    that only waited for it; None otherwise (the browser then goes to `next` as before).

    Answered in the sign-in's own request, it spares the browser one more request to
    /authorize; the checks are those that request would run. The caller commits.
    """
    path, _, query = next_url.partition("?")
    if path != "/authorize":
        return None
    authorization = _get_request(path, query)
    if any(name in authorization.args for name in REAUTH_PARAMS):
        return None
    server = authorization_server()
    grantee = _grantee(login)
    try:
        grant = server.get_consent_grant(request=authorization, end_user=grantee)
    except OAuth2Error:
        return None
    return server.create_authorization_response(grant=grant, grant_user=grantee)


def _get_request(path, query):
    """A GET of path?query, as the browser would send it next (same headers, no body)."""
    environ = {
        **request.environ,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": "0",
        "wsgi.input": io.BytesIO(),
    }
    environ.pop("CONTENT_TYPE", None)
    return Request(environ)


def _must_sign_in_again(grant, login):
    """prompt=login, or a sign-in older than max_age: the user proves who they are again."""
    if grant.prompt == "login":
        return True
    max_age = request.args.get("max_age", "")
    if not max_age.isdigit():
        return False
    return (utcnow() - login.created_at).total_seconds() > int(max_age)


def _authorize_again_url():
    # Without prompt and max_age, which the fresh sign-in satisfies: no loop through /login.
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in REAUTH_PARAMS]
    return request.path + "?" + urlencode(params)


def _grantee(login):
    if login is None or login.user.disabled:
        return None
    return tokens.Grantee(user=login.user, sid=login.id, acr=login.acr, auth_time=login.created_at)


def _authorize_error(server, error):
    if error.redirect_uri:
        return server.handle_error_response(request, error)
    # The client or its redirect URI is unknown: never redirect, tell the user.
    log.info("authorization request refused", extra={"error": error.error})
    body = render_template("oauth/error.html", description=error.get_error_description())
    return body, 400


@bp.post("/token")
def token():
    """The token endpoint; every failure is an RFC 6749 error JSON, never a 500."""
    server = authorization_server()
    if not request.form.get("grant_type"):
        return server.handle_error_response(
            request, InvalidRequestError("The 'grant_type' parameter is required.")
        )
    response = server.create_token_response()
    # Committed even for an error: a replayed code or refresh token revokes what it gave.
    db.session().commit()
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
@auth.require(scopes=["openid"])
def userinfo():
    """Claims about the token's user, as allowed by the token's scopes."""
    claims = g.claims
    # Only a token issued to a user in a sign-in session (sid) speaks for a user; a service's
    # client-credentials token is refused whatever its subject looks like.
    if not claims.get("sid"):
        raise _invalid_token()
    session = db.session()
    user = session.get(User, _uuid(claims.get("sub")))
    revoked = tokens.is_access_token_revoked(session, claims.get("jti"))
    if user is None or user.disabled or revoked:
        raise _invalid_token()
    return user_info(user, claims.get("scope"))


def _invalid_token():
    return ServiceError(
        "The access token is not valid.",
        401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@bp.post("/revoke")
def revoke():
    """RFC 7009 revocation; an unknown token is answered 200 as the RFC says."""
    response = authorization_server().create_endpoint_response("revocation")
    db.session().commit()
    return response


class LogoutForm(FlaskForm):
    """The confirmation asked when a logout request carries no id_token_hint."""


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """RP-initiated logout: end the session, then go back to a registered URI or say goodbye."""
    server = authorization_server()
    session = db.session()
    form = LogoutForm()
    signed_in = sessions.current_login(session) is not None
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        # An id_token_hint signed by a key retired since, or not by us: ask the user instead.
        log.info("logout request without a valid hint", extra={"error": error.error})
        if not signed_in:
            return render_template("oauth/logged_out.html")
        return render_template("oauth/logout.html", form=form, params=_logout_params())
    if validated.needs_confirmation and signed_in and not form.validate_on_submit():
        session.commit()
        return render_template("oauth/logout.html", form=form, params=_logout_params())
    response = server.create_endpoint_response("end_session", validated)
    session.commit()
    return response or render_template("oauth/logged_out.html")


def _logout_params():
    names = ("client_id", "post_logout_redirect_uri", "state")
    return {name: request.values[name] for name in names if request.values.get(name)}
