"""The OpenID Connect flows the identity benchmark drives, as a browser and a service would.

Written against the platform contract: /authorize (code + PKCE S256) redirects to the French
login form (identifiant, mot de passe, code TOTP), whose submission leads back to /authorize and
then to the client's redirect URI with a code; /token exchanges codes, refresh tokens and client
credentials.
"""

import base64
import hashlib
import html.parser
import secrets
import urllib.parse
from dataclasses import dataclass

import pyotp
import requests

TIMEOUT = 10


class FlowError(RuntimeError):
    """identity answered something the flow did not expect."""


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uri: str = ""

    @property
    def auth(self):
        return (self.client_id, self.secret)


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str


class FormParser(html.parser.HTMLParser):
    """The first form of a page: its action and its named input fields with their values."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self._done:
            self._in_form = True
            self.action = attrs.get("action") or ""
        elif tag in {"input", "button"} and self._in_form and attrs.get("name"):
            self.fields.setdefault(attrs["name"], attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def parse_form(page):
    parser = FormParser()
    parser.feed(page)
    if parser.action is None:
        raise FlowError("the login page has no form")
    return parser.action, parser.fields


def fill_login_form(fields, account):
    """Put the account's credentials into the fields whose names say what they hold."""
    filled = dict(fields)
    for name in fields:
        lowered = name.lower()
        if "totp" in lowered or lowered in {"code", "otp"}:
            filled[name] = pyotp.TOTP(account.totp_secret).now()
        elif "pass" in lowered or "mot" in lowered:
            filled[name] = account.password
        elif "user" in lowered or "identifiant" in lowered or lowered == "login":
            filled[name] = account.username
    return filled


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return verifier, challenge


def _code_from(location, state):
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    if query.get("state") != [state] or "code" not in query:
        raise FlowError(f"the redirect carries no code for our state: {query.get('error')}")
    return query["code"][0]


def _follow_to_redirect_uri(session, response, client):
    """Follow identity's redirects until one points at the client's redirect URI."""
    for _ in range(5):
        location = response.headers.get("Location")
        if response.status_code not in (301, 302, 303) or not location:
            raise FlowError(f"expected a redirect, got {response.status_code}")
        location = urllib.parse.urljoin(response.url, location)
        if location.startswith(client.redirect_uri):
            return location
        response = session.get(location, allow_redirects=False, timeout=TIMEOUT)
    raise FlowError("too many redirects before the client's redirect URI")


def password_login(
    base_url, client, account, scope="openid profile offline_access roles", http=requests
):
    """A full browser login (authorize, login form, code, token); the token response.

    The browser keeps its connection between its own requests; the client's code exchange goes
    through `http` (requests itself, a new connection; or the client's pooled Session).
    """
    session = requests.Session()
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = session.get(f"{base_url}/authorize", params=params, timeout=TIMEOUT)
    if page.status_code != 200:
        raise FlowError(f"the login page answered {page.status_code}")
    action, fields = parse_form(page.text)
    response = session.post(
        urllib.parse.urljoin(page.url, action),
        data=fill_login_form(fields, account),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    code = _code_from(_follow_to_redirect_uri(session, response, client), state)
    return token_request(
        base_url,
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=client.redirect_uri,
        code_verifier=verifier,
        http=http,
    )


def token_request(base_url, client, http=requests, **form):
    """POST /token with the client's credentials (client_secret_basic); the JSON answer.

    `http`: requests itself (a new connection per request) or a requests.Session, whose pool
    keeps the connection open between requests as a client with a pooled session does.
    """
    response = http.post(f"{base_url}/token", data=form, auth=client.auth, timeout=TIMEOUT)
    if response.status_code != 200:
        raise FlowError(f"/token answered {response.status_code}: {response.text[:200]}")
    return response.json()


def refresh(base_url, client, refresh_token, http=requests):
    """A refresh grant; the new token response (the refresh token rotates)."""
    return token_request(
        base_url, client, http=http, grant_type="refresh_token", refresh_token=refresh_token
    )


def client_credentials(base_url, client, scope=None, http=requests):
    """A client-credentials grant; the token response."""
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    return token_request(base_url, client, http=http, **form)


def create_user(base_url, admin_token, username, password):
    """An account made through the admin API; its TOTP secret (from the provisioning URI)."""
    body = {
        "username": username,
        "given_name": "Banc",
        "family_name": "D'essai",
        "roles": ["clinician"],
        "password": password,
    }
    response = requests.post(
        f"{base_url}/api/v1/users",
        json=body,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=TIMEOUT,
    )
    if response.status_code != 201:
        raise FlowError(f"creating {username} answered {response.status_code}: {response.text}")
    uri = response.json()["totp_provisioning_uri"]
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["secret"][0]
    return Account(username, password, secret)
